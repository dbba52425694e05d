//! The framing ClickHouse's server adds to `Native` output for a client that gives its protocol version
//! (`client_protocol_version`, sent by clickhouse-go ≥ 2.37, so Grafana's ClickHouse datasource ≥ 4.10.2, and by
//! clickhouse-connect once it has probed for it): before each block its `BlockInfo` (`01 00 02 FF FF FF FF 00`),
//! and from revision 54454 one byte after each column's type saying it has no custom serialization.
//!
//! The embedded engine writes `Native` as a local client would, without either, and that is not a setting; so
//! [`frame`] walks each block's columns (it must know where each one ends) and inserts them. LowCardinality is
//! walked as ClickHouse writes it (prefix, then dictionary keys and indexes); a type this walker does not know
//! (Variant, Dynamic, JSON, AggregateFunction states) is a clear error naming the column.

/// The revision from which each column carries its custom-serialization byte.
const WITH_CUSTOM_SERIALIZATION: u64 = 54454;
/// `BlockInfo` with its defaults: field 1 `is_overflows = false`, field 2 `bucket_num = -1`, end.
const BLOCK_INFO: [u8; 8] = [0x01, 0x00, 0x02, 0xFF, 0xFF, 0xFF, 0xFF, 0x00];

struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn varint(&mut self) -> Result<u64, String> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self.data.get(self.at).ok_or("the engine's Native output ended inside a number")?;
            self.at += 1;
            value |= u64::from(byte & 0x7F) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err("a number in the engine's Native output is too long".into())
    }

    fn skip(&mut self, bytes: u64) -> Result<(), String> {
        let end = usize::try_from(bytes).ok().and_then(|b| self.at.checked_add(b)).filter(|e| *e <= self.data.len());
        self.at = end.ok_or("the engine's Native output ended inside a column")?;
        Ok(())
    }

    fn string(&mut self) -> Result<&[u8], String> {
        let length = self.varint()?;
        let start = self.at;
        self.skip(length)?;
        Ok(&self.data[start..self.at])
    }

    fn u64_le(&mut self) -> Result<u64, String> {
        let start = self.at;
        self.skip(8)?;
        Ok(u64::from_le_bytes(self.data[start..self.at].try_into().expect("8 bytes")))
    }
}

/// `Name(arg, arg)` → (`Name`, [args]), splitting only at top-level commas (outside parentheses and quotes).
fn split_type(type_name: &str) -> (&str, Vec<&str>) {
    let type_name = type_name.trim();
    let Some(open) = type_name.find('(') else {
        return (type_name, Vec::new());
    };
    let inner = type_name[open + 1..].strip_suffix(')').unwrap_or(&type_name[open + 1..]);
    let mut args = Vec::new();
    let (mut depth, mut quoted, mut start) = (0i32, false, 0usize);
    let bytes = inner.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'\'' if i == 0 || bytes[i - 1] != b'\\' => quoted = !quoted,
            b'(' if !quoted => depth += 1,
            b')' if !quoted => depth -= 1,
            b',' if !quoted && depth == 0 => {
                args.push(inner[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    args.push(inner[start..].trim());
    (&type_name[..open], args)
}

/// A tuple element may be named (`name Type`): the type is what follows the first top-level space.
fn element_type(arg: &str) -> &str {
    let (mut depth, mut quoted) = (0i32, false);
    for (i, b) in arg.bytes().enumerate() {
        match b {
            b'\'' => quoted = !quoted,
            b'(' if !quoted => depth += 1,
            b')' if !quoted => depth -= 1,
            b' ' if !quoted && depth == 0 => return arg[i + 1..].trim(),
            _ => {}
        }
    }
    arg
}

fn fixed_width(base: &str, args: &[&str]) -> Option<u64> {
    Some(match base {
        "UInt8" | "Int8" | "Bool" | "Enum8" | "Nothing" => 1,
        "UInt16" | "Int16" | "Enum16" | "Date" | "BFloat16" => 2,
        "UInt32" | "Int32" | "Float32" | "DateTime" | "Date32" | "IPv4" | "Decimal32" => 4,
        "UInt64" | "Int64" | "Float64" | "DateTime64" | "Decimal64" | "Time64" => 8,
        "Time" => 4,
        "UInt128" | "Int128" | "UUID" | "IPv6" | "Decimal128" => 16,
        "UInt256" | "Int256" | "Decimal256" => 32,
        "Decimal" => match args.first().and_then(|p| p.parse::<u32>().ok())? {
            0..=9 => 4,
            10..=18 => 8,
            19..=38 => 16,
            _ => 32,
        },
        "FixedString" => args.first()?.parse().ok()?,
        interval if interval.starts_with("Interval") => 8,
        _ => return None,
    })
}

/// Skips one column of `rows` values of `type_name`: its serialization prefixes (all of them first, as
/// ClickHouse writes every stream of a column into the one buffer), then its data. A block of no rows has no
/// bytes at all for its columns.
fn skip_column(reader: &mut Reader<'_>, type_name: &str, rows: u64) -> Result<(), String> {
    if rows == 0 {
        return Ok(());
    }
    skip_prefix(reader, type_name)?;
    skip_data(reader, type_name, rows)
}

fn skip_prefix(reader: &mut Reader<'_>, type_name: &str) -> Result<(), String> {
    match split_type(type_name) {
        // The key version (1: shared dictionaries with additional keys).
        ("LowCardinality", _) => reader.skip(8),
        ("Nullable" | "Array", args) if args.len() == 1 => skip_prefix(reader, args[0]),
        ("SimpleAggregateFunction", args) if args.len() == 2 => skip_prefix(reader, args[1]),
        ("Map", args) if args.len() == 2 => {
            skip_prefix(reader, args[0])?;
            skip_prefix(reader, args[1])
        }
        ("Tuple", args) => args.iter().try_for_each(|element| skip_prefix(reader, element_type(element))),
        _ => Ok(()),
    }
}

fn skip_data(reader: &mut Reader<'_>, type_name: &str, rows: u64) -> Result<(), String> {
    let (base, args) = split_type(type_name);
    if let Some(width) = fixed_width(base, &args) {
        return reader.skip(width.checked_mul(rows).ok_or("a column too large")?);
    }
    match (base, args.as_slice()) {
        ("String", _) => {
            for _ in 0..rows {
                let length = reader.varint()?;
                reader.skip(length)?;
            }
            Ok(())
        }
        ("Nullable", [inner]) => {
            reader.skip(rows)?;
            skip_data(reader, inner, rows)
        }
        ("Array", [inner]) => {
            let total = offsets(reader, rows)?;
            skip_data(reader, inner, total)
        }
        ("Map", [key, value]) => {
            let total = offsets(reader, rows)?;
            skip_data(reader, key, total)?;
            skip_data(reader, value, total)
        }
        ("Tuple", elements) => elements.iter().try_for_each(|element| skip_data(reader, element_type(element), rows)),
        ("SimpleAggregateFunction", [_, inner]) => skip_data(reader, inner, rows),
        ("LowCardinality", [inner]) => {
            // Nothing is written for no rows (an empty array's elements); else the index width and flags, the
            // dictionary's keys (of the type without Nullable: NULL is key 0), and one index per row.
            if rows == 0 {
                return Ok(());
            }
            let flags = reader.u64_le()?;
            const NEEDS_GLOBAL_DICTIONARY: u64 = 1 << 8;
            const HAS_ADDITIONAL_KEYS: u64 = 1 << 9;
            if flags & NEEDS_GLOBAL_DICTIONARY != 0 {
                return Err(format!("type {type_name} with a global dictionary"));
            }
            if flags & HAS_ADDITIONAL_KEYS != 0 {
                let keys = reader.u64_le()?;
                let key_type = match split_type(inner) {
                    ("Nullable", args) if args.len() == 1 => args[0],
                    _ => inner,
                };
                skip_data(reader, key_type, keys)?;
            }
            let indexes = reader.u64_le()?;
            let width = 1u64 << (flags & 0xFF).min(3);
            reader.skip(width.checked_mul(indexes).ok_or("a column too large")?)
        }
        _ => Err(format!("type {type_name}")),
    }
}

/// Reads `rows` array offsets; the last is the number of elements.
fn offsets(reader: &mut Reader<'_>, rows: u64) -> Result<u64, String> {
    let mut total = 0;
    for _ in 0..rows {
        total = reader.u64_le()?;
    }
    Ok(total)
}

/// `data` (the engine's `Native` output) framed for a client at protocol `revision`.
pub fn frame(data: &[u8], revision: u64) -> Result<Vec<u8>, String> {
    let mut reader = Reader { data, at: 0 };
    let mut out = Vec::with_capacity(data.len() + 64);
    let mut copied = 0;
    while reader.at < data.len() {
        out.extend_from_slice(&BLOCK_INFO);
        let columns = reader.varint()?;
        let rows = reader.varint()?;
        for _ in 0..columns {
            let name = String::from_utf8_lossy(reader.string()?).into_owned();
            let type_name = String::from_utf8_lossy(reader.string()?).into_owned();
            if revision >= WITH_CUSTOM_SERIALIZATION {
                out.extend_from_slice(&data[copied..reader.at]);
                out.push(0);
                copied = reader.at;
            }
            skip_column(&mut reader, &type_name, rows).map_err(|what| {
                format!("column {name} ({what}) cannot be sent in Native to this client: cast it, e.g. to String")
            })?;
        }
        out.extend_from_slice(&data[copied..reader.at]);
        copied = reader.at;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint(out: &mut Vec<u8>, mut value: u64) {
        loop {
            let byte = (value & 0x7F) as u8;
            value >>= 7;
            if value == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }

    fn string(out: &mut Vec<u8>, text: &str) {
        varint(out, text.len() as u64);
        out.extend_from_slice(text.as_bytes());
    }

    /// One block, 2 rows: `s String`, `a Array(Nullable(UInt8))`, `t Tuple(x Decimal(18, 2), y FixedString(3))`.
    fn block(out: &mut Vec<u8>, custom: bool) {
        varint(out, 3);
        varint(out, 2);
        string(out, "s");
        string(out, "String");
        if custom {
            out.push(0);
        }
        string(out, "ab");
        string(out, "");
        string(out, "a");
        string(out, "Array(Nullable(UInt8))");
        if custom {
            out.push(0);
        }
        out.extend_from_slice(&1u64.to_le_bytes());
        out.extend_from_slice(&3u64.to_le_bytes());
        out.extend_from_slice(&[0, 1, 0]); // null map of 3 values
        out.extend_from_slice(&[7, 0, 9]);
        string(out, "t");
        string(out, "Tuple(x Decimal(18, 2), y FixedString(3))");
        if custom {
            out.push(0);
        }
        out.extend_from_slice(&[0; 16]);
        out.extend_from_slice(b"abcdef");
    }

    #[test]
    fn frames_every_block_and_column_for_the_clients_revision() {
        let mut plain = Vec::new();
        block(&mut plain, false);
        block(&mut plain, false);

        let mut expected = Vec::new();
        for _ in 0..2 {
            expected.extend_from_slice(&BLOCK_INFO);
            block(&mut expected, true);
        }
        assert_eq!(frame(&plain, 54460).unwrap(), expected);

        let mut old = Vec::new();
        for _ in 0..2 {
            old.extend_from_slice(&BLOCK_INFO);
            block(&mut old, false);
        }
        assert_eq!(frame(&plain, 54405).unwrap(), old);
    }

    #[test]
    fn an_unknown_type_or_a_cut_block_is_an_error_not_a_panic() {
        let mut data = Vec::new();
        varint(&mut data, 1);
        varint(&mut data, 1);
        string(&mut data, "j");
        string(&mut data, "JSON");
        data.push(0);
        assert!(frame(&data, 54460).unwrap_err().contains("column j (type JSON)"));
        let mut plain = Vec::new();
        block(&mut plain, false);
        for cut in 1..plain.len() {
            assert!(frame(&plain[..cut], 54460).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn reads_type_arguments() {
        assert_eq!(split_type("DateTime64(3, 'UTC')"), ("DateTime64", vec!["3", "'UTC'"]));
        assert_eq!(split_type("Enum8('a,b' = 1, 'c' = 2)").1.len(), 2);
        assert_eq!(element_type("x Nullable(Decimal(18, 2))"), "Nullable(Decimal(18, 2))");
        assert_eq!(element_type("Nullable(Decimal(18, 2))"), "Nullable(Decimal(18, 2))");
    }
}
