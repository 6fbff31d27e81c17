//! What a record costs over bare postcard: `to_record` + `from_record` of a ~1 KiB value against
//! `postcard::to_allocvec` + `postcard::from_bytes` of the same struct. The target is at most 1.2x;
//! figures are in docs/performance.md ("Record conversion").
//!
//! `cargo bench -p netabase --bench record_conversion -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use netabase::NetabaseSchema;
use serde::{Deserialize, Serialize};

/// A document of about 1 KiB once encoded: a typical mix of a numeric key, strings, a list of
/// short strings and a list of numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, NetabaseSchema)]
struct Document {
    #[key]
    id: u64,
    title: String,
    author: String,
    tags: Vec<String>,
    body: String,
    scores: Vec<u32>,
    published: bool,
}

fn document() -> Document {
    Document {
        id: 1_234_567,
        title: "Notes on replicated key-value stores over Kademlia".into(),
        author: "A. Writer <writer@example.org>".into(),
        tags: (0..8).map(|i| format!("topic-{i:02}-tag")).collect(),
        body: "lorem ipsum dolor sit amet, consectetur adipiscing elit. ".repeat(12),
        scores: (0..40).map(|i| i * 1_000).collect(),
        published: true,
    }
}

fn record_conversion(c: &mut Criterion) {
    let value = document();
    let encoded = postcard::to_allocvec(&value).expect("the document encodes");
    println!("encoded value: {} bytes", encoded.len());

    let mut group = c.benchmark_group("record_conversion");
    group.throughput(Throughput::Bytes(encoded.len() as u64));
    group.bench_function("postcard_encode_decode", |b| {
        b.iter(|| {
            let bytes = postcard::to_allocvec(black_box(&value)).expect("encodes");
            let decoded: Document = postcard::from_bytes(black_box(&bytes)).expect("decodes");
            decoded
        })
    });
    group.bench_function("to_record_from_record", |b| {
        b.iter(|| {
            let record = black_box(&value).to_record().expect("encodes");
            Document::from_record(black_box(&record)).expect("decodes")
        })
    });
    group.finish();
}

/// Times `netabase` against `baseline` in alternating batches, so that load from other processes
/// on a shared machine slows both alike. Returns the median of the per-round ratios and each
/// side's fastest batch (per operation).
fn interleaved(baseline: &dyn Fn(), netabase: &dyn Fn()) -> (f64, Duration, Duration) {
    const ROUNDS: usize = 300;
    const BATCH: u32 = 500;
    let time_batch = |run: &dyn Fn()| {
        let start = Instant::now();
        for _ in 0..BATCH {
            run();
        }
        start.elapsed() / BATCH
    };
    let mut ratios = Vec::with_capacity(ROUNDS);
    let (mut fastest_baseline, mut fastest_netabase) = (Duration::MAX, Duration::MAX);
    for _ in 0..ROUNDS {
        let base = time_batch(baseline);
        let ours = time_batch(netabase);
        fastest_baseline = fastest_baseline.min(base);
        fastest_netabase = fastest_netabase.min(ours);
        ratios.push(ours.as_secs_f64() / base.as_secs_f64());
    }
    ratios.sort_by(f64::total_cmp);
    (ratios[ROUNDS / 2], fastest_baseline, fastest_netabase)
}

/// A named pair of operations: the postcard baseline, then netabase's.
type Case<'a> = (&'static str, &'a dyn Fn(), &'a dyn Fn());

/// Prints the interleaved ratios of the round trip and of each half.
fn interleaved_ratios() {
    let value = document();
    let bytes = postcard::to_allocvec(&value).expect("encodes");
    let record = value.to_record().expect("encodes");
    let cases: [Case<'_>; 3] = [
        (
            "to_record+from_record vs postcard encode+decode",
            &|| {
                let bytes = postcard::to_allocvec(black_box(&value)).expect("encodes");
                let decoded: Document = postcard::from_bytes(black_box(&bytes)).expect("decodes");
                black_box(decoded);
            },
            &|| {
                let record = black_box(&value).to_record().expect("encodes");
                black_box(Document::from_record(black_box(&record)).expect("decodes"));
            },
        ),
        (
            "to_record vs postcard::to_allocvec",
            &|| {
                black_box(postcard::to_allocvec(black_box(&value)).expect("encodes"));
            },
            &|| {
                black_box(black_box(&value).to_record().expect("encodes"));
            },
        ),
        (
            "from_record vs postcard::from_bytes",
            &|| {
                let decoded: Document = postcard::from_bytes(black_box(&bytes)).expect("decodes");
                black_box(decoded);
            },
            &|| {
                black_box(Document::from_record(black_box(&record)).expect("decodes"));
            },
        ),
    ];
    for (name, baseline, netabase) in cases {
        let (ratio, base, ours) = interleaved(baseline, netabase);
        println!(
            "interleaved {name}: {ratio:.3}x (median of per-round ratios); fastest batch \
             {ours:?} vs {base:?}"
        );
    }
}

fn main() {
    interleaved_ratios();
    let mut criterion = Criterion::default().configure_from_args();
    record_conversion(&mut criterion);
    criterion.final_summary();
}
