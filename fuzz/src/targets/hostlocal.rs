//! host-local's on-disk grammars: reservation files (`id\r\nifname`), index
//! buckets and the index stamp, and resolv.conf. Each is parsed directly and
//! also planted in a scratch data directory that a real ADD, GC and DEL then
//! read.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use std::os::unix::fs::MetadataExt;

use host_local::index::INDEX_DIR;
use host_local::index_format::{
    Stamp, bucket_name, bucket_of, bucket_text, parse_bucket, parse_stamp, stamp_text,
};
use host_local::store::{Key, parse_owner};
use serde_json::json;

use super::Target;
use crate::check::{Verdict, error_json};

pub fn targets() -> Vec<Target> {
    vec![Target {
        name: "host_local_files",
        about: "host-local reservation, index marker, index stamp and resolv.conf parsers",
        seeds,
        run,
    }]
}

fn seeds() -> Vec<Vec<u8>> {
    [
        "owner\nc0ffee\r\neth0",
        "owner\nlegacy-id-only",
        "owner\n\r\n",
        "bucket\nBUCKET\nid=fuzz ifname=eth0 boot=BOOT ips=10.9.0.3\n",
        "bucket\nBUCKET\nid=fuzz ifname=eth0 boot=before-boot ips=10.9.0.3,10.9.0.4\n",
        "stamp\nferrocni host-local index v1\nmtime 1700000000 5\nboot abc\n",
        "stamp\nferrocni host-local index v1\nmtime none\nboot before-boot\n",
        "resolv\nnameserver 10.0.0.10\nsearch a.b c.d\noptions ndots:5\ndomain x\n# c\n",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect()
}

fn scratch() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("ferrocni-fuzz-hlf-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("scratch dir");
        d
    })
}

fn run(input: &[u8]) -> Verdict {
    let text = String::from_utf8_lossy(input);
    let (mode, body) = text.split_once('\n').unwrap_or(("owner", &text));
    let root = scratch();
    let net = root.join("hlf");
    let _ = std::fs::remove_dir_all(&net);
    std::fs::create_dir_all(net.join(INDEX_DIR)).map_err(|e| format!("scratch: {e}"))?;
    match mode {
        "bucket" => bucket(&net, body)?,
        "stamp" => {
            if let Some(s) = parse_stamp(body)
                && parse_stamp(&stamp_text(&s)) != Some(s.clone())
            {
                return Err(format!("stamp does not round-trip: {s:?}"));
            }
            plant(&net.join(INDEX_DIR).join("stamp"), body)?
        }
        "resolv" => {
            host_local::dns::parse(body);
            return Ok(());
        }
        _ => {
            parse_owner(body);
            plant(&net.join("10.9.0.2"), body)?;
        }
    }
    for verb in ["GC", "ADD", "CHECK", "DEL", "GC"] {
        call(root, verb)?;
    }
    Ok(())
}

/// Plants bucket `body` (placeholders filled in) behind a fresh stamp, so
/// the next call trusts and reads it instead of rebuilding.
fn bucket(net: &Path, body: &str) -> Verdict {
    let key = Key::new("fuzz", "eth0");
    let b = bucket_of(&key);
    let boot = host_local::boot::boot_id();
    let body = body
        .replace("BUCKET", bucket_text(&[]).trim_end())
        .replace("BOOT", &boot);
    if let Some(m) = parse_bucket(&body, b)
        && parse_bucket(&bucket_text(&m), b) != Some(m.clone())
    {
        return Err(format!("bucket does not round-trip: {m:?}"));
    }
    plant(&net.join("10.9.0.3"), "fuzz\r\neth0")?;
    plant(&net.join(INDEX_DIR).join(bucket_name(b)), &body)?;
    let md = std::fs::metadata(net).map_err(|e| format!("stat: {e}"))?;
    let stamp = Stamp {
        mtime: Some((md.mtime(), md.mtime_nsec())),
        boot,
    };
    plant(&net.join(INDEX_DIR).join("stamp"), &stamp_text(&stamp))
}

fn plant(path: &Path, body: &str) -> Verdict {
    std::fs::write(path, body).map_err(|e| format!("plant {}: {e}", path.display()))
}

fn call(root: &Path, verb: &str) -> Verdict {
    let conf = json!({"cniVersion": "1.1.0", "name": "hlf", "type": "host-local",
        "cni.dev/valid-attachments": [{"containerID": "keep", "ifname": "eth0"}],
        "ipam": {"type": "host-local", "dataDir": root, "ranges": [[{"subnet": "10.9.0.0/29"}]]}})
    .to_string();
    let get = |k: &str| -> Option<String> {
        Some(
            match k {
                "CNI_COMMAND" => verb,
                "CNI_CONTAINERID" => "fuzz",
                "CNI_IFNAME" => "eth0",
                "CNI_NETNS" => "/proc/self/ns/net",
                "CNI_NETNS_OVERRIDE" => "1",
                _ => return None,
            }
            .to_string(),
        )
    };
    let out = cni::dispatch(&host_local::HostLocal, &get, &mut conf.as_bytes());
    if out.exit_code != 0 {
        return error_json(&out.stdout).map_err(|e| format!("{e} [{verb}]"));
    }
    Ok(())
}
