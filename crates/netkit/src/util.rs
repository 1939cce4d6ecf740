//! Small helpers: kernel randomness as hex (for `veth` names) and a MAC
//! address type that parses and prints the usual `aa:bb:cc:dd:ee:ff` form.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// `n` random bytes from the kernel (`getrandom(2)`).
pub fn random_bytes(n: usize) -> Result<Vec<u8>> {
    let mut buf = vec![0u8; n];
    let mut filled = 0;
    while filled < n {
        // SAFETY: the pointer and length describe the unfilled tail of `buf`.
        let r = unsafe { libc::getrandom(buf[filled..].as_mut_ptr().cast(), n - filled, 0) };
        if r < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(Error::io("getrandom", e));
        }
        filled += r as usize;
    }
    Ok(buf)
}

/// `2 * bytes` lowercase hex characters of kernel randomness.
pub fn random_hex(bytes: usize) -> Result<String> {
    Ok(random_bytes(bytes)?
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// A 48-bit Ethernet address.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// A random unicast, locally administered address.
    pub fn random_local() -> Result<MacAddr> {
        let b = random_bytes(6)?;
        let mut m = [0u8; 6];
        m.copy_from_slice(&b);
        m[0] = (m[0] & 0xfe) | 0x02;
        Ok(MacAddr(m))
    }

    /// The address from a kernel attribute (must be 6 bytes).
    pub fn from_slice(b: &[u8]) -> Option<MacAddr> {
        <[u8; 6]>::try_from(b).ok().map(MacAddr)
    }

    pub fn octets(&self) -> [u8; 6] {
        self.0
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}

impl fmt::Debug for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MacAddr({self})")
    }
}

impl FromStr for MacAddr {
    type Err = Error;

    /// Accepts `aa:bb:cc:dd:ee:ff` and `aa-bb-cc-dd-ee-ff`, any case.
    fn from_str(s: &str) -> Result<MacAddr> {
        let bad = || Error::Invalid(format!("invalid MAC address {s:?}"));
        let parts: Vec<&str> = s.split([':', '-']).collect();
        if parts.len() != 6 {
            return Err(bad());
        }
        let mut m = [0u8; 6];
        for (slot, p) in m.iter_mut().zip(parts) {
            if p.len() != 2 {
                return Err(bad());
            }
            *slot = u8::from_str_radix(p, 16).map_err(|_| bad())?;
        }
        Ok(MacAddr(m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_round_trips_through_text() {
        let m: MacAddr = "0A:58:0a:f4:00:1F".parse().unwrap();
        assert_eq!(m.0, [0x0a, 0x58, 0x0a, 0xf4, 0x00, 0x1f]);
        assert_eq!(m.to_string(), "0a:58:0a:f4:00:1f");
        assert_eq!("0a-58-0a-f4-00-1f".parse::<MacAddr>().unwrap(), m);
    }

    #[test]
    fn malformed_macs_are_rejected() {
        for s in [
            "",
            "0a:58:0a:f4:00",
            "0a:58:0a:f4:00:1f:00",
            "0a:58:0a:f4:0:1f",
            "zz:58:0a:f4:00:1f",
        ] {
            assert!(s.parse::<MacAddr>().is_err(), "{s}");
        }
    }

    #[test]
    fn random_local_mac_is_unicast_and_locally_administered() {
        for _ in 0..32 {
            let m = MacAddr::random_local().unwrap();
            assert_eq!(m.0[0] & 0x01, 0, "{m}");
            assert_eq!(m.0[0] & 0x02, 0x02, "{m}");
        }
    }

    #[test]
    fn random_hex_has_requested_length_and_varies() {
        let a = random_hex(4).unwrap();
        let b = random_hex(4).unwrap();
        assert_eq!(a.len(), 8);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_ne!(a, b);
    }
}
