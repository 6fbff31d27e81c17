//! The memory the simulation's process holds.

/// The resident memory of this process in bytes, from `/proc/self/status`; `None` where there is
/// no such file (not Linux).
pub(crate) fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse::<u64>()
        .ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(target_os = "linux")]
    fn a_running_process_holds_some_memory() {
        let bytes = super::resident_bytes().expect("Linux has /proc/self/status");
        assert!(bytes > 1024 * 1024, "{bytes}");
    }
}
