//! The names a certificate for this machine is made for: its host names and the addresses a
//! browser can reach it by.

use std::collections::BTreeSet;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The DNS names and IP addresses a certificate is for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Names {
    /// DNS names, lower case
    pub dns: BTreeSet<String>,
    /// IP addresses
    pub ips: BTreeSet<IpAddr>,
}

impl fmt::Display for Names {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let all: Vec<String> = self
            .dns
            .iter()
            .cloned()
            .chain(self.ips.iter().map(IpAddr::to_string))
            .collect();
        f.write_str(&all.join(", "))
    }
}

impl Names {
    /// The names of this machine (see [`Names::machine`]) from its host name and the
    /// addresses of its network interfaces.
    pub fn of_this_machine(listen: IpAddr) -> Names {
        let host = gethostname::gethostname().to_string_lossy().into_owned();
        let addrs = match if_addrs::get_if_addrs() {
            Ok(ifaces) => ifaces.into_iter().map(|i| i.ip()).collect(),
            Err(e) => {
                tracing::warn!(error = %e, "cannot list the network interfaces' addresses");
                Vec::new()
            }
        };
        // absent on other systems than Linux: nothing is then known to be temporary
        let temporary =
            temporary_ipv6(&std::fs::read_to_string("/proc/net/if_inet6").unwrap_or_default());
        Names::machine(Some(&host), &addrs, &temporary, listen)
    }

    /// `localhost`, the host name (and `<host>.local`, its multicast DNS name, for a host
    /// name without a dot), 127.0.0.1, ::1, every address of `addrs` a browser can reach
    /// (not loopback, unspecified, multicast, IPv6 link-local (it needs a zone a URL cannot
    /// carry) nor a `temporary` IPv6 privacy address (it changes every day)), and the
    /// listening address unless it is unspecified.
    pub fn machine(
        host: Option<&str>,
        addrs: &[IpAddr],
        temporary: &BTreeSet<Ipv6Addr>,
        listen: IpAddr,
    ) -> Names {
        let mut names = Names::default();
        names.dns.insert("localhost".to_owned());
        if let Some(host) = host.map(|h| h.trim().trim_end_matches('.').to_ascii_lowercase()) {
            if is_dns_name(&host) {
                if !host.contains('.') && host != "localhost" {
                    names.dns.insert(format!("{host}.local"));
                }
                names.dns.insert(host);
            }
        }
        names.ips.insert(IpAddr::V4(Ipv4Addr::LOCALHOST));
        names.ips.insert(IpAddr::V6(Ipv6Addr::LOCALHOST));
        for &ip in addrs {
            let reachable = match ip {
                IpAddr::V4(v4) => !(v4.is_loopback() || v4.is_unspecified() || v4.is_multicast()),
                IpAddr::V6(v6) => {
                    !(v6.is_loopback()
                        || v6.is_unspecified()
                        || v6.is_multicast()
                        || (v6.segments()[0] & 0xffc0) == 0xfe80
                        || temporary.contains(&v6))
                }
            };
            if reachable {
                names.ips.insert(ip);
            }
        }
        if !listen.is_unspecified() {
            names.ips.insert(listen);
        }
        names
    }

    /// The names of `self` that `other` lacks.
    pub fn missing_from(&self, other: &Names) -> Names {
        Names {
            dns: self.dns.difference(&other.dns).cloned().collect(),
            ips: self.ips.difference(&other.ips).copied().collect(),
        }
    }

    /// Whether there is no name.
    pub fn is_empty(&self) -> bool {
        self.dns.is_empty() && self.ips.is_empty()
    }

    /// Both sets of names.
    pub fn union(&self, other: &Names) -> Names {
        Names {
            dns: self.dns.union(&other.dns).cloned().collect(),
            ips: self.ips.union(&other.ips).copied().collect(),
        }
    }
}

/// A host name usable as a certificate's DNS name: letters, digits and hyphens in labels of
/// 1 to 63 characters.
fn is_dns_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// The temporary (privacy extension) IPv6 addresses listed in Linux's `/proc/net/if_inet6`:
/// lines of the address in 32 hex digits, interface index, prefix length, scope, flags
/// (`IFA_F_TEMPORARY` = 0x01) and interface name.
pub fn temporary_ipv6(if_inet6: &str) -> BTreeSet<Ipv6Addr> {
    const IFA_F_TEMPORARY: u32 = 0x01;
    if_inet6
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (hex, flags) = (fields.first()?, fields.get(4)?);
            let flags = u32::from_str_radix(flags, 16).ok()?;
            let bits = u128::from_str_radix(hex, 16)
                .ok()
                .filter(|_| hex.len() == 32)?;
            (flags & IFA_F_TEMPORARY != 0).then(|| Ipv6Addr::from(bits))
        })
        .collect()
}

#[cfg(test)]
pub(super) mod testing {
    use super::*;

    pub fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    pub fn names(dns: &[&str], ips: &[&str]) -> Names {
        Names {
            dns: dns.iter().map(|d| (*d).to_owned()).collect(),
            ips: ips.iter().map(|i| ip(i)).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{ip, names};
    use super::*;

    #[test]
    fn a_machine_is_named_by_host_reachable_addresses_and_listen_address() {
        let temporary: BTreeSet<Ipv6Addr> = ["2001:db8::beef".parse().unwrap()].into();
        let got = Names::machine(
            Some("Patrol-Box\n"),
            &[
                ip("127.0.0.1"),
                ip("192.168.1.20"),
                ip("::1"),
                ip("fe80::1"),
                ip("2001:db8::20"),
                ip("2001:db8::beef"),
                ip("0.0.0.0"),
                ip("224.0.0.1"),
            ],
            &temporary,
            ip("10.0.0.5"),
        );
        assert_eq!(
            got,
            names(
                &["localhost", "patrol-box", "patrol-box.local"],
                &[
                    "127.0.0.1",
                    "::1",
                    "192.168.1.20",
                    "2001:db8::20",
                    "10.0.0.5"
                ]
            )
        );
        let fqdn = Names::machine(Some("pp.district.lan"), &[], &temporary, ip("0.0.0.0"));
        assert_eq!(
            fqdn,
            names(&["localhost", "pp.district.lan"], &["127.0.0.1", "::1"]),
            "an unspecified listen address adds nothing; an FQDN gets no .local"
        );
        let odd = Names::machine(Some("my_host"), &[], &temporary, ip("::"));
        assert_eq!(odd.dns, names(&["localhost"], &[]).dns, "not a DNS name");
        assert_eq!(
            got.to_string(),
            "localhost, patrol-box, patrol-box.local, 10.0.0.5, 127.0.0.1, 192.168.1.20, ::1, 2001:db8::20"
        );
    }

    #[test]
    fn temporary_ipv6_addresses_are_read_from_proc() {
        let text = "\
20010db8000000000000000000000020 02 40 00 00     eth0
20010db800000000000000000000beef 02 40 00 01     eth0
fe800000000000000000000000000001 02 40 20 80     eth0
00000000000000000000000000000001 01 80 10 80       lo
garbage line
";
        let got = temporary_ipv6(text);
        assert_eq!(got, ["2001:db8::beef".parse().unwrap()].into());
    }
}
