//! Sizes for people: the exact byte count, and binary units beside it.
//!
//! ```
//! use fabric_core::size::describe;
//! assert_eq!(describe(1023), "1023 bytes");
//! assert_eq!(describe(5699), "5699 bytes (5.57 KiB)");
//! ```

/// `N bytes`, followed by the size in KiB, MiB, GiB or TiB (two decimals) from
/// 1 KiB up. The byte count is always exact; the unit is for reading.
pub fn describe(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = UNITS[0];
    for next in &UNITS[1..] {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = next;
    }
    format!("{bytes} bytes ({value:.2} {unit})")
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[test]
    fn every_unit() {
        assert_eq!(describe(0), "0 bytes");
        assert_eq!(describe(1024), "1024 bytes (1.00 KiB)");
        assert_eq!(describe(2206), "2206 bytes (2.15 KiB)");
        assert_eq!(describe(566_997_733), "566997733 bytes (540.73 MiB)");
        assert_eq!(describe(1_880_000_000), "1880000000 bytes (1.75 GiB)");
        assert_eq!(
            describe(u64::MAX),
            "18446744073709551615 bytes (16777216.00 TiB)"
        );
    }
}
