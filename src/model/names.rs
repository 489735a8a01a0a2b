//! Names that end up in namespaces, interfaces, cgroups and remote commands
//! are checked where they are read: a short, safe charset only.

/// The longest id or name accepted (bytes).
pub const MAX_NAME_LEN: usize = 64;

/// Check a vnode id, VM name or host name: 1–64 bytes of `[A-Za-z0-9._-]`
/// (plus `:` and `@`-free), not starting with `-` or `.`.
///
/// ```
/// use netbalance::model::names::check_name;
/// assert!(check_name("n42").is_ok());
/// assert!(check_name("h0-v1.a_b").is_ok());
/// assert!(check_name("a;rm -rf /").is_err());
/// assert!(check_name("$(reboot)").is_err());
/// assert!(check_name("-rf").is_err());
/// ```
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("empty name".into());
    }
    if name.len() > MAX_NAME_LEN {
        return Err(format!("name is {} bytes long (at most {MAX_NAME_LEN})", name.len()));
    }
    if name.starts_with('-') || name.starts_with('.') {
        return Err(format!("name {name:?} must not start with '-' or '.'"));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(format!(
            "name {name:?} contains {c:?} (allowed: letters, digits, '.', '_', '-')"
        ));
    }
    Ok(())
}

/// Turn an arbitrary label (e.g. "New York" from a Topology Zoo file) into a
/// valid name: disallowed characters become `_`, overlong names are cut.
pub fn sanitize(label: &str) -> String {
    let mut s: String = label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    while s.starts_with('-') || s.starts_with('.') {
        s.replace_range(0..1, "_");
    }
    if s.is_empty() {
        s.push('_');
    }
    s.truncate(MAX_NAME_LEN);
    s
}
