// A js-libp2p kad-dht peer for the interop test (netabase_store/tests/node/js_interop.rs).
//
//   node peer.mjs <netabase multiaddr with /p2p/> <hex key to get> <hex key to put> <hex value>
//
// It listens on 127.0.0.1 only, knows no peer but the Netabase node it is given, speaks
// Netabase's kad protocol name, waits until the Netabase node is in its routing table (js-libp2p
// pings a new contact before it adds it), gets the first key from the network, puts the second,
// and prints one line per step: `routable`, `got <hex value>`, `put ok`. Any failure prints
// `error <message>` and exits with status 1; it never runs longer than the test's own timeout,
// which kills it.

import './node20.mjs'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { kadDHT, passthroughMapper } from '@libp2p/kad-dht'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'

const [bootstrap, getKey, putKey, putValue] = process.argv.slice(2)
const fromHex = (hex) => Uint8Array.from(Buffer.from(hex, 'hex'))
const toHex = (bytes) => Buffer.from(bytes).toString('hex')
const deadline = (ms, what) => AbortSignal.timeout(ms)

// Netabase keys are /<namespace>/<name>/<key bytes>; js-kad-dht looks validators and selectors
// up by the namespace. Netabase nodes validate; this peer accepts what they serve.
const accept = async () => {}
const first = () => 0
const namespaces = ['netabase', 'interop']

async function main () {
  const node = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: {
      identify: identify(),
      ping: ping(),
      dht: kadDHT({
        protocol: '/netabase/kad/1.0.0',
        clientMode: false,
        // js-kad-dht drops private and loopback addresses by default (it is tuned for the public
        // IPFS network); a peer on 127.0.0.1 or a LAN needs them kept.
        peerInfoMapper: passthroughMapper,
        validators: Object.fromEntries(namespaces.map((ns) => [ns, accept])),
        selectors: Object.fromEntries(namespaces.map((ns) => [ns, first]))
      })
    }
  })
  const dht = node.services.dht
  const target = multiaddr(bootstrap)
  await node.dial(target, { signal: deadline(10000) })

  // The Netabase node must enter the routing table on its own: that is what failed before
  // Netabase nodes ran ping.
  const started = Date.now()
  while ((await dht.routingTable.size) === 0) {
    if (Date.now() - started > 15000) {
      throw new Error('the Netabase node never entered the routing table')
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  console.log('routable')

  let got
  for await (const event of dht.get(fromHex(getKey), { signal: deadline(15000) })) {
    if (event.name === 'VALUE') {
      got = event.value
      break
    }
  }
  if (got === undefined) {
    throw new Error('the get found no value')
  }
  console.log(`got ${toHex(got)}`)

  let sent = false
  for await (const event of dht.put(fromHex(putKey), fromHex(putValue), { signal: deadline(15000) })) {
    if (event.name === 'PEER_RESPONSE' && event.messageName === 'PUT_VALUE') {
      sent = true
    }
  }
  if (!sent) {
    throw new Error('no peer answered the put')
  }
  console.log('put ok')
  await node.stop()
}

main().then(
  () => process.exit(0),
  (error) => {
    console.log(`error ${error?.message ?? error}`)
    process.exit(1)
  }
)
