//! ACL schemes (world, auth, digest, ip, super) and permission checks, as
//! ZooKeeper's `checkACL` and `fixupACL` define them.

use ::core::net::IpAddr;
use base64::Engine;
use jute::codes::Code;
use jute::{Acl, Id};
use sha1::{Digest, Sha1};

/// The identities a connection has proven: `ip` from its address, plus one
/// per successful `addauth`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthInfo {
    pub ids: Vec<Id>,
}

impl AuthInfo {
    /// A fresh connection from `ip` (an address without port).
    pub fn for_ip(ip: &str) -> Self {
        AuthInfo {
            ids: vec![Id {
                scheme: "ip".into(),
                id: ip.to_string(),
            }],
        }
    }

    /// True if the super digest matched at `addauth`.
    pub fn is_super(&self) -> bool {
        self.ids.iter().any(|i| i.scheme == "super")
    }

    fn add(&mut self, id: Id) {
        if !self.ids.contains(&id) {
            self.ids.push(id);
        }
    }
}

/// `user:base64(sha1("user:password"))`, the form digest ACL ids take.
pub fn digest(user_password: &str) -> String {
    let user = user_password.split(':').next().unwrap_or("");
    let hash = Sha1::digest(user_password.as_bytes());
    format!(
        "{user}:{}",
        base64::engine::general_purpose::STANDARD.encode(hash)
    )
}

/// Handles an `addauth`. Only `digest` is known; other schemes fail like an
/// unknown provider does in ZooKeeper.
pub fn authenticate(
    auth: &mut AuthInfo,
    scheme: &str,
    credentials: &[u8],
    super_digest: Option<&str>,
) -> Result<(), Code> {
    match scheme {
        "digest" => {
            let cred = std::str::from_utf8(credentials).map_err(|_| Code::AuthFailed)?;
            let d = digest(cred);
            if super_digest == Some(d.as_str()) {
                auth.add(Id {
                    scheme: "super".into(),
                    id: String::new(),
                });
            }
            auth.add(Id {
                scheme: "digest".into(),
                id: d,
            });
            Ok(())
        }
        // As ZooKeeper's IP provider: the identity is the connection's own
        // address (which every connection already holds); the credential
        // is ignored.
        "ip" => Ok(()),
        _ => Err(Code::AuthFailed),
    }
}

/// The user name whoAmI reports for an identity.
pub fn user_name(id: &Id) -> String {
    match id.scheme.as_str() {
        "digest" => id.id.split(':').next().unwrap_or("").to_string(),
        _ => id.id.clone(),
    }
}

fn valid_id(id: &Id) -> bool {
    match id.scheme.as_str() {
        "world" => id.id == "anyone",
        "digest" => id.id.split(':').count() == 2,
        "ip" => parse_ip_spec(&id.id).is_some(),
        // `super` is an identity, not an ACL scheme: ZooKeeper has no
        // provider for it and refuses it in ACLs.
        _ => false,
    }
}

/// Validates a client-supplied ACL and expands the `auth` scheme into the
/// connection's authenticated ids. Empty lists, unknown schemes and `auth`
/// without credentials are `InvalidACL`.
pub fn fixup(acl: &[Acl], auth: &AuthInfo) -> Result<Vec<Acl>, Code> {
    if acl.is_empty() {
        return Err(Code::InvalidAcl);
    }
    let mut out: Vec<Acl> = Vec::with_capacity(acl.len());
    let mut push = |a: Acl| {
        if !out.contains(&a) {
            out.push(a);
        }
    };
    for a in acl {
        if a.id.scheme == "auth" {
            let mut any = false;
            // Only identities of authenticating providers (not ip, not the
            // super marker) go into an `auth` ACL, as in ZooKeeper.
            for id in auth
                .ids
                .iter()
                .filter(|i| i.scheme != "ip" && i.scheme != "super")
            {
                any = true;
                push(Acl {
                    perms: a.perms,
                    id: id.clone(),
                });
            }
            if !any {
                return Err(Code::InvalidAcl);
            }
        } else if valid_id(&a.id) {
            push(a.clone());
        } else {
            return Err(Code::InvalidAcl);
        }
    }
    Ok(out)
}

/// ZooKeeper's `checkACL`: Ok if any entry grants one of `perm`'s bits to
/// an identity the connection holds.
pub fn check(acl: &[Acl], perm: i32, auth: &AuthInfo) -> Result<(), Code> {
    if acl.is_empty() || auth.is_super() {
        return Ok(());
    }
    for a in acl.iter().filter(|a| a.perms & perm != 0) {
        if a.id.scheme == "world" && a.id.id == "anyone" {
            return Ok(());
        }
        for held in auth.ids.iter().filter(|i| i.scheme == a.id.scheme) {
            let ok = match a.id.scheme.as_str() {
                "ip" => ip_matches(&held.id, &a.id.id),
                _ => held.id == a.id.id,
            };
            if ok {
                return Ok(());
            }
        }
    }
    Err(Code::NoAuth)
}

/// Parses `addr` or `addr/bits` into the address and prefix length.
fn parse_ip_spec(spec: &str) -> Option<(IpAddr, u32)> {
    let (addr, bits) = match spec.split_once('/') {
        Some((a, b)) => (a, Some(b.parse::<u32>().ok()?)),
        None => (spec, None),
    };
    let ip: IpAddr = addr.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let bits = bits.unwrap_or(max);
    (bits <= max).then_some((ip, bits))
}

fn ip_matches(client: &str, spec: &str) -> bool {
    let (Some((net, bits)), Ok(ip)) = (parse_ip_spec(spec), client.parse::<IpAddr>()) else {
        return false;
    };
    let (a, b, width) = match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(c)) => (u32::from(n) as u128, u32::from(c) as u128, 32),
        (IpAddr::V6(n), IpAddr::V6(c)) => (u128::from(n), u128::from(c), 128),
        _ => return false,
    };
    if bits == 0 {
        return true;
    }
    let shift = width - bits;
    (a >> shift) == (b >> shift)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jute::codes::perms;

    #[test]
    fn ip_auth_succeeds_and_adds_nothing_new() {
        let mut a = AuthInfo::for_ip("127.0.0.1");
        assert_eq!(authenticate(&mut a, "ip", b"10.0.0.1", None), Ok(()));
        assert_eq!(a, AuthInfo::for_ip("127.0.0.1"));
        assert_eq!(
            authenticate(&mut a, "kerberos", b"x", None),
            Err(Code::AuthFailed)
        );
    }

    #[test]
    fn super_is_an_identity_not_an_acl_scheme() {
        let super_digest = digest("super:pw");
        let mut a = AuthInfo::for_ip("127.0.0.1");
        authenticate(&mut a, "digest", b"super:pw", Some(&super_digest)).unwrap();
        assert!(a.is_super());
        assert_eq!(
            fixup(&[acl(perms::ALL, "super", "x")], &a),
            Err(Code::InvalidAcl)
        );
        // `auth` expands to the digest only: no ip, no super marker.
        let fixed = fixup(&[acl(perms::ALL, "auth", "")], &a).unwrap();
        assert_eq!(fixed, vec![acl(perms::ALL, "digest", &super_digest)]);
    }

    fn acl(perms: i32, scheme: &str, id: &str) -> Acl {
        Acl {
            perms,
            id: Id {
                scheme: scheme.into(),
                id: id.into(),
            },
        }
    }

    #[test]
    fn digest_matches_zookeeper() {
        // Known value from ZooKeeper's DigestAuthenticationProvider docs.
        assert_eq!(digest("super:test"), "super:D/InIHSb7yEEbrWz8b9l71RjZJU=");
    }

    #[test]
    fn ip_ranges() {
        assert!(ip_matches("10.1.2.3", "10.0.0.0/8"));
        assert!(!ip_matches("11.1.2.3", "10.0.0.0/8"));
        assert!(ip_matches("127.0.0.1", "127.0.0.1"));
        assert!(!ip_matches("127.0.0.2", "127.0.0.1"));
    }

    #[test]
    fn auth_scheme_expands_and_needs_credentials() {
        let mut a = AuthInfo::for_ip("127.0.0.1");
        let req = [acl(perms::ALL, "auth", "")];
        assert_eq!(fixup(&req, &a), Err(Code::InvalidAcl));
        authenticate(&mut a, "digest", b"bob:pw", None).unwrap();
        let fixed = fixup(&req, &a).unwrap();
        assert_eq!(fixed, vec![acl(perms::ALL, "digest", &digest("bob:pw"))]);
        assert!(check(&fixed, perms::READ, &a).is_ok());
        assert_eq!(
            check(&fixed, perms::READ, &AuthInfo::for_ip("1.1.1.1")),
            Err(Code::NoAuth)
        );
    }

    #[test]
    fn super_bypasses() {
        let mut a = AuthInfo::default();
        let sd = digest("super:pw");
        authenticate(&mut a, "digest", b"super:pw", Some(&sd)).unwrap();
        assert!(check(&[acl(perms::READ, "digest", "x:y")], perms::ADMIN, &a).is_ok());
    }
}
