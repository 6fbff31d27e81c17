//! The summary of a store as aligned tables, for people.

use super::summary::{NO_PREFIX, StoreReport};
use crate::output::{self, Align, Table};
use crate::record_json::RecordJson;

/// The report as aligned tables.
pub fn render(report: &StoreReport) -> String {
    let mut out = String::new();
    let owner = report
        .peer_id
        .as_deref()
        .map(|peer| format!("peer {peer}, "))
        .unwrap_or_default();
    let verified = if report.verified {
        ", every page verified"
    } else {
        ""
    };
    out.push_str(&format!(
        "{}  ({owner}{} on disk{verified})\n",
        report.path,
        output::bytes(report.file_bytes)
    ));
    out.push_str(&format!(
        "  {} records: {} of keys, {} of values; {} expired awaiting sweep\n",
        report.records,
        output::bytes(report.key_bytes),
        output::bytes(report.value_bytes),
        report.expired_awaiting_sweep
    ));
    if report.damaged.entries > 0 {
        out.push_str(&format!(
            "  {} damaged entries skipped (not counted above; everything else is listed):\n",
            report.damaged.entries
        ));
        for damage in &report.damaged.first {
            out.push_str(&format!("    {damage}\n"));
        }
        let unshown = report.damaged.entries - report.damaged.first.len() as u64;
        if unshown > 0 {
            out.push_str(&format!("    and {unshown} more\n"));
        }
    }
    if let Some(record) = &report.record {
        out.push('\n');
        match record {
            Some(record) => out.push_str(&render_record(record)),
            None => out.push_str("  no unexpired record under that key in this store\n"),
        }
        return out;
    }
    if !report.schemas.is_empty() {
        out.push('\n');
        out.push_str(&schema_table(report).render(2));
        out.push('\n');
        out.push_str(&publisher_table(report).render(2));
        let publishers = &report.publishers;
        match publishers.distinct {
            Some(distinct) if distinct > publishers.top.len() => out.push_str(&format!(
                "  and {} more publishers\n",
                distinct - publishers.top.len()
            )),
            Some(_) => {}
            None => out.push_str(
                "  (over 1000 publishers: counts may be too high by the amount in brackets)\n",
            ),
        }
    }
    let providers = &report.providers;
    out.push('\n');
    out.push_str(&format!(
        "  provider records: {} for {} keys ({} by this node); {} expired awaiting sweep\n",
        providers.records,
        providers.keys,
        providers.provided_by_this_node,
        providers.expired_awaiting_sweep
    ));
    out
}

fn schema_table(report: &StoreReport) -> Table {
    let mut table = Table::new(&[
        ("SCHEMA PREFIX", Align::Left),
        ("RECORDS", Align::Right),
        ("KEYS", Align::Right),
        ("VALUES", Align::Right),
        ("LARGEST", Align::Right),
        ("EXPIRING", Align::Right),
        ("NEXT EXPIRY", Align::Left),
        ("PUBLISHERS", Align::Right),
    ]);
    for schema in &report.schemas {
        let publishers = if schema.publishers_exact {
            schema.publishers.to_string()
        } else {
            format!("{}+", schema.publishers)
        };
        table.row(vec![
            schema.prefix.clone(),
            schema.records.to_string(),
            output::bytes(schema.key_bytes),
            output::bytes(schema.value_bytes),
            output::bytes(schema.largest_value),
            schema.expiring.to_string(),
            schema
                .next_expiry_unix_ms
                .map_or_else(|| "-".into(), output::timestamp_ms),
            publishers,
        ]);
    }
    table
}

fn publisher_table(report: &StoreReport) -> Table {
    let mut table = Table::new(&[("PUBLISHER", Align::Left), ("RECORDS", Align::Right)]);
    for publisher in &report.publishers.top {
        let records = if publisher.overcount > 0 {
            format!("{} (-{})", publisher.records, publisher.overcount)
        } else {
            publisher.records.to_string()
        };
        table.row(vec![
            publisher.peer_id.clone().unwrap_or_else(|| "(none)".into()),
            records,
        ]);
    }
    table
}

/// One record as a field table.
pub fn render_record(record: &RecordJson) -> String {
    let mut table = Table::new(&[("FIELD", Align::Left), ("VALUE", Align::Left)]);
    table
        .row(vec!["key".into(), record.key.clone()])
        .row(vec![
            "schema".into(),
            record.schema.clone().unwrap_or_else(|| NO_PREFIX.into()),
        ])
        .row(vec!["value bytes".into(), record.value_bytes.to_string()])
        .row(vec!["value".into(), record.value.clone()])
        .row(vec!["value hex".into(), record.value_hex.clone()])
        .row(vec![
            "deleted".into(),
            if record.deleted {
                "yes: a tombstone, the deleted value followed by \\x00netabase:deleted".into()
            } else {
                "no".into()
            },
        ])
        .row(vec![
            "publisher".into(),
            record.publisher.clone().unwrap_or_else(|| "(none)".into()),
        ])
        .row(vec!["expires".into(), record.expiry_text()]);
    table.render(2)
}
