//! `server.N=...` ensemble member lines in ZooKeeper's syntax.

use std::fmt;

/// Whether an ensemble member votes (participant) or only replicates
/// (observer); ZooKeeper's `LearnerType`, whose ordinal `conf` prints as
/// `peerType`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Role {
    /// Votes in elections and in commit quorums (ZooKeeper's default).
    #[default]
    Participant,
    /// Follows the leader's commits without voting.
    Observer,
}

impl Role {
    /// ZooKeeper's `LearnerType.ordinal()`, printed as `peerType` by `conf`.
    pub fn peer_type(self) -> u8 {
        match self {
            Role::Participant => 0,
            Role::Observer => 1,
        }
    }
}

/// One ensemble member, parsed from
/// `host:quorumPort:electionPort[:participant|:observer][;[clientHost:]clientPort]`
/// so that a `zoo.cfg` written for ZooKeeper describes the same ensemble.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerSpec {
    /// Host name or IP address the peer listens on (IPv6 without brackets).
    pub host: String,
    /// Port followers connect to the leader on (ZooKeeper's 2888).
    pub quorum_port: u16,
    /// Port used for leader election (ZooKeeper's 3888).
    pub election_port: u16,
    /// Voting participant or observer.
    pub role: Role,
    /// Client listen address from the `;host:port` suffix, if it named a
    /// host (a bare `;port` means all interfaces and leaves this `None`).
    pub client_addr: Option<String>,
    /// Client port from the `;[host:]port` suffix, if present.
    pub client_port: Option<u16>,
}

impl ServerSpec {
    /// Parses the value of a `server.N` key, with ZooKeeper's validation
    /// (three or four `:` parts, distinct quorum and election ports, a known
    /// role). Multiple `|`-separated addresses are rejected, as ZooKeeper
    /// does unless `multiAddress.enabled` is set.
    pub fn parse(value: &str) -> Result<ServerSpec, String> {
        let wrong_format = || {
            format!(
                "expected host:quorumPort:electionPort[:participant|:observer][;[clientHost:]clientPort], got {value:?}"
            )
        };
        let mut halves = value.split(';');
        let server_part = halves.next().unwrap_or_default().trim();
        let client_part = halves.next().map(str::trim);
        if halves.next().is_some() {
            return Err(wrong_format());
        }
        if server_part.contains('|') {
            return Err(
                "multiple addresses per server ('|') are not supported by corral".to_string(),
            );
        }

        let (client_addr, client_port) = match client_part {
            None => (None, None),
            Some(client) => {
                let parts = split_host_and_port(client)?;
                let (host, port) = match parts.as_slice() {
                    [port] => (None, port),
                    [host, port] => (Some(host.clone()), port),
                    _ => return Err(wrong_format()),
                };
                (Some(host), Some(parse_port(port, "client port")?))
            }
        };
        let client_addr = client_addr.flatten();

        let parts = split_host_and_port(server_part)?;
        if !(3..=4).contains(&parts.len()) {
            return Err(wrong_format());
        }
        let host = parts[0].clone();
        if host.is_empty() {
            return Err(wrong_format());
        }
        let quorum_port = parse_port(&parts[1], "quorum port")?;
        let election_port = parse_port(&parts[2], "election port")?;
        if quorum_port == election_port {
            return Err(format!(
                "quorum and election port must be different, both are {quorum_port}"
            ));
        }
        let role = match parts.get(3).map(|r| r.to_ascii_lowercase()) {
            None => Role::Participant,
            Some(r) if r == "participant" => Role::Participant,
            Some(r) if r == "observer" => Role::Observer,
            Some(r) => return Err(format!("unrecognised peer type {r:?}")),
        };
        Ok(ServerSpec {
            host,
            quorum_port,
            election_port,
            role,
            client_addr,
            client_port,
        })
    }
}

/// ZooKeeper's `QuorumServer.toString()`, as printed in the `membership:`
/// section of `conf` (and in dynamic config files).
impl fmt::Display for ServerSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = bracket_ipv6(&self.host);
        write!(f, "{host}:{}:{}", self.quorum_port, self.election_port)?;
        match self.role {
            Role::Participant => f.write_str(":participant")?,
            Role::Observer => f.write_str(":observer")?,
        }
        if let Some(port) = self.client_port {
            let addr = self.client_addr.as_deref().unwrap_or("0.0.0.0");
            write!(f, ";{}:{port}", bracket_ipv6(addr))?;
        }
        Ok(())
    }
}

fn bracket_ipv6(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

/// ZooKeeper's `ConfigUtils.getHostAndPort`: split on `:`, except that a
/// leading `[...]` is one IPv6 host part. Trailing empty parts are dropped,
/// like Java's `String.split`.
fn split_host_and_port(s: &str) -> Result<Vec<String>, String> {
    let mut parts: Vec<String> = if let Some(rest) = s.strip_prefix('[') {
        let close = rest
            .find(']')
            .ok_or_else(|| format!("{s:?} starts with '[' but has no matching ']'"))?;
        let host = rest[..close].to_string();
        let after = &rest[close + 1..];
        if after.is_empty() {
            vec![host]
        } else {
            let tail = after
                .strip_prefix(':')
                .filter(|t| !t.is_empty())
                .ok_or_else(|| format!("{s:?} doesn't have a port after the ']'"))?;
            std::iter::once(host)
                .chain(tail.split(':').map(|p| p.trim().to_string()))
                .collect()
        }
    } else {
        s.split(':').map(|p| p.trim().to_string()).collect()
    };
    while parts.len() > 1 && parts.last().is_some_and(String::is_empty) {
        parts.pop();
    }
    Ok(parts)
}

fn parse_port(s: &str, what: &str) -> Result<u16, String> {
    s.parse::<u16>()
        .map_err(|_| format!("invalid {what} {s:?} (expected 0-65535)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(s: &str) -> ServerSpec {
        match ServerSpec::parse(s) {
            Ok(spec) => spec,
            Err(e) => panic!("{s}: {e}"),
        }
    }

    #[test]
    fn plain_server_line() {
        let s = spec("zk1.example.com:2888:3888");
        assert_eq!(s.host, "zk1.example.com");
        assert_eq!((s.quorum_port, s.election_port), (2888, 3888));
        assert_eq!(s.role, Role::Participant);
        assert_eq!((s.client_addr, s.client_port), (None, None));
    }

    #[test]
    fn roles() {
        assert_eq!(spec("h:1:2:observer").role, Role::Observer);
        assert_eq!(spec("h:1:2:participant").role, Role::Participant);
        assert_eq!(spec("h:1:2:OBSERVER").role, Role::Observer);
        assert!(ServerSpec::parse("h:1:2:leader").is_err());
    }

    #[test]
    fn client_part() {
        let s = spec("10.0.0.1:2888:3888;2181");
        assert_eq!(
            (s.client_addr.as_deref(), s.client_port),
            (None, Some(2181))
        );
        let s = spec("10.0.0.1:2888:3888:observer;127.0.0.1:2182");
        assert_eq!(s.role, Role::Observer);
        assert_eq!(
            (s.client_addr.as_deref(), s.client_port),
            (Some("127.0.0.1"), Some(2182))
        );
        assert!(ServerSpec::parse("h:1:2;x").is_err());
        assert!(ServerSpec::parse("h:1:2;a:b:3").is_err());
        assert!(ServerSpec::parse("h:1:2;3;4").is_err());
    }

    #[test]
    fn ipv6_hosts() {
        let s = spec("[::1]:2888:3888;[::1]:2181");
        assert_eq!(s.host, "::1");
        assert_eq!(s.client_addr.as_deref(), Some("::1"));
        assert_eq!(s.to_string(), "[::1]:2888:3888:participant;[::1]:2181");
    }

    #[test]
    fn invalid_lines() {
        for bad in [
            "h:2888",
            "h:2888:3888:observer:x",
            "h:2888:2888",
            "h:abc:3888",
            "h:2888:70000",
            ":1:2",
            "a:1:2|b:1:2",
        ] {
            assert!(ServerSpec::parse(bad).is_err(), "{bad} should fail");
        }
    }

    #[test]
    fn display_matches_zookeeper() {
        assert_eq!(
            spec("127.0.0.1:22888:23888").to_string(),
            "127.0.0.1:22888:23888:participant"
        );
        assert_eq!(
            spec("h:1:2:observer;2181").to_string(),
            "h:1:2:observer;0.0.0.0:2181"
        );
    }
}
