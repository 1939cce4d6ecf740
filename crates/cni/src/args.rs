//! `CNI_ARGS`: `K=V;K=V` pairs with the `IgnoreUnknown` convention.
//!
//! SPEC (conventions): a plugin that meets a key it does not know fails unless
//! `IgnoreUnknown` is true. Runtimes send `K8S_POD_*` keys in any order.

use crate::error::CniError;

/// Parsed `CNI_ARGS`, in the order given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CniArgs {
    pub pairs: Vec<(String, String)>,
}

impl CniArgs {
    /// Parses `K=V;K=V`; a pair without `=` is code 4 naming it.
    pub fn parse(s: &str) -> Result<CniArgs, CniError> {
        let mut pairs = Vec::new();
        for item in s.split(';').filter(|i| !i.is_empty()) {
            let Some((k, v)) = item.split_once('=') else {
                return Err(CniError::invalid_env(format!(
                    "CNI_ARGS: invalid pair {item:?} (want KEY=VALUE)"
                )));
            };
            pairs.push((k.to_string(), v.to_string()));
        }
        Ok(CniArgs { pairs })
    }

    /// The value of `key` (the last one given wins).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// `IgnoreUnknown` as the reference reads it: `1`/`true` (any case).
    pub fn ignore_unknown(&self) -> Result<bool, CniError> {
        match self.get("IgnoreUnknown").map(str::to_ascii_lowercase) {
            None => Ok(false),
            Some(v) if v == "1" || v == "true" => Ok(true),
            Some(v) if v == "0" || v == "false" => Ok(false),
            Some(v) => Err(CniError::invalid_env(format!(
                "CNI_ARGS: IgnoreUnknown={v:?} is not a boolean"
            ))),
        }
    }

    /// Fails on a key outside `known` unless `IgnoreUnknown` is set.
    /// The `K8S_POD_*` keys runtimes send are always known.
    pub fn check_known(&self, known: &[&str]) -> Result<(), CniError> {
        if self.ignore_unknown()? {
            return Ok(());
        }
        const ALWAYS: [&str; 5] = [
            "IgnoreUnknown",
            "K8S_POD_NAMESPACE",
            "K8S_POD_NAME",
            "K8S_POD_INFRA_CONTAINER_ID",
            "K8S_POD_UID",
        ];
        for (k, v) in &self.pairs {
            if !known.contains(&k.as_str()) && !ALWAYS.contains(&k.as_str()) {
                return Err(CniError::invalid_env(format!(
                    "CNI_ARGS: unknown key {k:?} (value {v:?}); set IgnoreUnknown=1 to allow it"
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pairs_in_any_order() {
        let a = CniArgs::parse("K8S_POD_NAME=p;IgnoreUnknown=1;IP=10.0.0.5").unwrap();
        assert_eq!(a.get("IP"), Some("10.0.0.5"));
        assert_eq!(a.get("K8S_POD_NAME"), Some("p"));
        assert!(a.ignore_unknown().unwrap());
        a.check_known(&[]).unwrap();
    }

    #[test]
    fn malformed_pair_is_code_4() {
        let e = CniArgs::parse("FOO").unwrap_err();
        assert_eq!(e.code, 4);
        assert!(e.msg.contains("FOO"));
    }

    #[test]
    fn unknown_key_rejected_without_ignore_unknown() {
        let a = CniArgs::parse("FOO=bar").unwrap();
        let e = a.check_known(&["IP"]).unwrap_err();
        assert!(e.msg.contains("FOO") && e.msg.contains("bar"));
        let b = CniArgs::parse("FOO=bar;IgnoreUnknown=true").unwrap();
        b.check_known(&["IP"]).unwrap();
    }

    #[test]
    fn value_may_contain_equals() {
        let a = CniArgs::parse("X=a=b").unwrap();
        assert_eq!(a.get("X"), Some("a=b"));
    }
}
