/// Parses a byte size the way gost's limiters do (base 2: `1KB` = `1KiB` = 1024 bytes; `B`,
/// `K`, `M`, `G`, `T` with an optional `i` and `B`; case-insensitive; fractions allowed).
/// A bare number is bytes. `None` if `s` is not a size.
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let value: f64 = num.parse().ok()?;
    let unit = unit.trim().to_ascii_lowercase();
    let unit = unit.strip_suffix('b').unwrap_or(&unit);
    let unit = unit.strip_suffix('i').unwrap_or(unit);
    let scale: u64 = match unit {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        "p" => 1 << 50,
        _ => return None,
    };
    let bytes = value * scale as f64;
    (bytes.is_finite() && bytes >= 0.0).then_some(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("100"), Some(100));
        assert_eq!(parse_size("10KB"), Some(10 * 1024));
        assert_eq!(parse_size("10kib"), Some(10 * 1024));
        assert_eq!(parse_size("1MB"), Some(1 << 20));
        assert_eq!(parse_size("1.5M"), Some(3 << 19));
        assert_eq!(parse_size("2GB"), Some(2 << 30));
        assert_eq!(parse_size("1B"), Some(1));
        assert_eq!(parse_size("MB"), None);
        assert_eq!(parse_size("10XB"), None);
        assert_eq!(parse_size("-1"), None);
    }
}
