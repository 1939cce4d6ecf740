//! The invariants every rejection must meet: a CNI error carries a code from
//! the documented set (100, "internal", means a bug and is refused), and a
//! hook error is one non-empty line.

use cni::CniError;

/// Codes a plugin may return for bad input (see README "error codes").
pub const DOCUMENTED: &[u32] = &[
    1, 2, 3, 4, 5, 6, 7, 8, 11, 50, 51, 101, 102, 103, 104, 105, 106, 107,
];

/// A verdict on one input: `Err` names the broken invariant.
pub type Verdict = Result<(), String>;

/// A CNI error is acceptable when its code is documented and its message set.
pub fn cni_error(e: &CniError) -> Verdict {
    if !DOCUMENTED.contains(&e.code) {
        return Err(format!(
            "undocumented or internal code {}: {}",
            e.code, e.msg
        ));
    }
    if e.msg.trim().is_empty() {
        return Err(format!("code {} with an empty message", e.code));
    }
    Ok(())
}

/// A plugin's stdout on failure: a CNI error object with a documented code.
pub fn error_json(stdout: &str) -> Verdict {
    let v: serde_json::Value =
        serde_json::from_str(stdout).map_err(|e| format!("error output is not JSON ({e})"))?;
    let code = v["code"]
        .as_u64()
        .ok_or("error output has no numeric code")?;
    let e = CniError::new(code as u32, v["msg"].as_str().unwrap_or_default());
    cni_error(&e)?;
    if v["cniVersion"].as_str().is_none() {
        return Err("error output has no cniVersion".into());
    }
    Ok(())
}

/// A hook error: exactly one non-empty line.
pub fn one_line(what: &str, msg: &str) -> Verdict {
    if msg.trim().is_empty() {
        return Err(format!("{what} error is empty"));
    }
    if msg.contains('\n') || msg.contains('\r') {
        return Err(format!("{what} error is not one line: {msg:?}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_and_unknown_codes_are_refused() {
        assert!(cni_error(&CniError::new(7, "bad")).is_ok());
        assert!(cni_error(&CniError::new(100, "boom")).is_err());
        assert!(cni_error(&CniError::new(42, "what")).is_err());
        assert!(cni_error(&CniError::new(7, " ")).is_err());
        assert!(error_json(r#"{"cniVersion":"1.0.0","code":6,"msg":"x"}"#).is_ok());
        assert!(error_json("not json").is_err());
        assert!(one_line("x", "a\nb").is_err());
        assert!(one_line("x", "fine").is_ok());
    }
}
