// js-libp2p 3 uses Promise.withResolvers (Node 22); the machines here run Node 20. Imported
// first by peer.mjs, so it is in place before libp2p's modules run.
if (typeof Promise.withResolvers !== 'function') {
  Promise.withResolvers = function withResolvers () {
    let resolve
    let reject
    const promise = new Promise((res, rej) => {
      resolve = res
      reject = rej
    })
    return { promise, resolve, reject }
  }
}
