use super::*;
use std::fs;

type TestResult = anyhow::Result<()>;

/// Writes `text` to `name` in a fresh temp dir and returns both (the dir
/// must outlive the test).
fn write_file(name: &str, text: &str) -> anyhow::Result<(tempfile::TempDir, PathBuf)> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join(name);
    fs::write(&path, text)?;
    Ok((dir, path))
}

fn sets(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn no_file_gives_defaults() -> TestResult {
    let c = Config::load(None, &[])?;
    assert_eq!(c, Config::default());
    assert_eq!(c.client_port, 2181);
    assert_eq!(c.client_port_address, "127.0.0.1");
    assert_eq!(c.data_dir, PathBuf::from("./data"));
    assert_eq!(
        (c.min_session_timeout_ms, c.max_session_timeout_ms),
        (4000, 40000)
    );
    assert_eq!(c.four_letter_whitelist, vec!["*"]);
    assert!(c.extended_types_enabled);
    assert_eq!(c.jute_max_buffer, 0xfffff);
    assert!(c.servers.is_empty());
    Ok(())
}

#[test]
fn zoo_cfg_with_comments_continuation_and_separators() -> TestResult {
    let (_dir, path) = write_file(
        "zoo.cfg",
        "# The number of milliseconds of each tick\n\
         tickTime=3000\n\
         ! bang comment\n\
         \n\
         dataDir : /var/lib/zk\n\
         clientPort 2281\n\
         4lw.commands.whitelist = stat, \\\n    ruok,\\\n  conf\n\
         maxClientCnxns=0\n\
         forceSync=no\n\
         jute.maxbuffer=0x100000\n\
         snapCount=5000\n\
         zookeeper.preAllocSize=1024\n",
    )?;
    let c = Config::load(Some(&path), &[])?;
    assert_eq!(c.tick_time_ms, 3000);
    assert_eq!(c.data_dir, PathBuf::from("/var/lib/zk"));
    assert_eq!(c.client_port, 2281);
    // zoo.cfg without clientPortAddress listens everywhere, like ZooKeeper.
    assert_eq!(c.client_port_address, "0.0.0.0");
    assert_eq!(c.four_letter_whitelist, vec!["stat", "ruok", "conf"]);
    assert_eq!(c.max_client_cnxns, 0);
    assert!(!c.force_sync);
    assert_eq!(c.jute_max_buffer, 0x100000);
    assert_eq!(c.snap_count, 5000);
    assert_eq!(c.pre_alloc_size_kb, 1024);
    // Session bounds follow this file's tickTime.
    assert_eq!(
        (c.min_session_timeout_ms, c.max_session_timeout_ms),
        (6000, 60000)
    );
    Ok(())
}

#[test]
fn system_property_names() -> TestResult {
    let c = Config::load(
        None,
        &sets(&[
            "zookeeper.extendedTypesEnabled=false",
            "zookeeper.DigestAuthenticationProvider.superDigest=super:D/InIHSb7yEEbrWz8b9l71RjZJU=",
            "znode.container.checkIntervalMs=1000",
            "znode.container.maxPerMinute=5",
            "znode.container.maxNeverUsedIntervalMs=30000",
            "readonlymode.enabled=true",
            "zookeeper.snapCount=10",
            "zookeeper.forceSync=yes",
            "zookeeper.fsync.warningthresholdms=50",
            "zookeeper.globalOutstandingLimit=7",
            "zookeeper.4lw.commands.whitelist=srvr",
            "autopurge.snapRetainCount=5",
            "autopurge.purgeInterval=24",
            "admin.enableServer=true",
            "admin.serverPort=9090",
            "metricsProvider.httpPort=7001",
        ]),
    )?;
    assert!(!c.extended_types_enabled);
    assert_eq!(
        c.super_digest.as_deref(),
        Some("super:D/InIHSb7yEEbrWz8b9l71RjZJU=")
    );
    assert_eq!(c.container_check_interval_ms, 1000);
    assert_eq!(c.container_max_per_minute, 5);
    assert_eq!(c.container_max_never_used_interval_ms, 30000);
    assert!(c.read_only_mode);
    assert_eq!(c.snap_count, 10);
    assert!(c.force_sync);
    assert_eq!(c.fsync_warning_threshold_ms, 50);
    assert_eq!(c.global_outstanding_limit, 7);
    assert_eq!(c.four_letter_whitelist, vec!["srvr"]);
    assert_eq!(
        (c.autopurge_snap_retain_count, c.autopurge_purge_interval_h),
        (5, 24)
    );
    assert!(c.admin_enable_server);
    assert_eq!(c.admin_server_port, 9090);
    assert_eq!(c.metrics_provider_http_port, 7001);
    Ok(())
}

#[test]
fn four_letter_whitelist_rules() -> TestResult {
    let all = Config::default();
    assert!(all.four_letter_allowed("conf") && all.four_letter_allowed("wchp"));
    let some = Config::load(None, &sets(&["4lw.commands.whitelist=ruok, stat"]))?;
    assert!(some.four_letter_allowed("ruok") && some.four_letter_allowed("stat"));
    assert!(some.four_letter_allowed("srvr"), "srvr is always allowed");
    assert!(!some.four_letter_allowed("conf") && !some.four_letter_allowed("isro"));
    let ro = Config::load(
        None,
        &sets(&["4lw.commands.whitelist=", "readonlymode.enabled=true"]),
    )?;
    assert!(ro.four_letter_whitelist.is_empty());
    assert!(ro.four_letter_allowed("isro") && !ro.four_letter_allowed("ruok"));
    Ok(())
}

#[test]
fn server_lines() -> TestResult {
    let (dir, path) = write_file("zoo.cfg", "")?;
    fs::write(
        &path,
        format!(
            "dataDir={}\n\
             server.1=10.0.0.1:2888:3888\n\
             server.2=10.0.0.2:2888:3888:participant;2181\n\
             server.3=10.0.0.3:2888:3888:observer;10.0.0.3:2182\n\
             myid=1\n",
            dir.path().display()
        ),
    )?;
    let c = Config::load(Some(&path), &[])?;
    assert_eq!(c.servers.len(), 3);
    assert_eq!(
        c.servers.get(&1),
        Some(&ServerSpec {
            host: "10.0.0.1".into(),
            quorum_port: 2888,
            election_port: 3888,
            role: Role::Participant,
            client_addr: None,
            client_port: None,
        })
    );
    let s2 = &c.servers[&2];
    assert_eq!(
        (s2.client_addr.as_deref(), s2.client_port),
        (None, Some(2181))
    );
    let s3 = &c.servers[&3];
    assert_eq!(s3.role, Role::Observer);
    assert_eq!(
        (s3.client_addr.as_deref(), s3.client_port),
        (Some("10.0.0.3"), Some(2182))
    );
    assert_eq!(c.server_id, 1);
    assert_eq!(c.local_server().map(|s| s.quorum_port), Some(2888));

    let err = Config::load(Some(&path), &sets(&["server.4=10.0.0.4:2888"]))
        .err()
        .map(|e| format!("{e:#}"))
        .unwrap_or_default();
    assert!(err.contains("server.4") && err.contains("--set"), "{err}");
    Ok(())
}

#[test]
fn own_server_line_sets_client_address() -> TestResult {
    let c = Config::load(
        None,
        &sets(&[
            "server.3=10.0.0.3:2888:3888:observer;10.0.0.3:2182",
            "myid=3",
        ]),
    )?;
    assert_eq!(
        (c.client_port_address.as_str(), c.client_port),
        ("10.0.0.3", 2182)
    );
    // An explicit clientPort that disagrees is an error, as in ZooKeeper.
    let clash = Config::load(
        None,
        &sets(&[
            "server.3=10.0.0.3:2888:3888;2182",
            "myid=3",
            "clientPort=2181",
        ]),
    );
    assert!(clash.is_err());
    Ok(())
}

#[test]
fn toml_file() -> TestResult {
    let (_dir, path) = write_file(
        "corral.toml",
        r#"
tickTime = 1000
dataDir = "/srv/corral"
clientPort = 0
"jute.maxbuffer" = 0x200000
"zookeeper.extendedTypesEnabled" = false
"4lw.commands.whitelist" = ["ruok", "mntr"]
"server.1" = "127.0.0.1:2888:3888"
myid = 1
minSessionTimeout = -1

[autopurge]
snapRetainCount = 4
"#,
    )?;
    let c = Config::load(Some(&path), &[])?;
    assert_eq!(c.tick_time_ms, 1000);
    assert_eq!(c.data_dir, PathBuf::from("/srv/corral"));
    assert_eq!(c.client_port, 0);
    assert_eq!(
        c.client_port_address, "127.0.0.1",
        "TOML keeps the safe default"
    );
    assert_eq!(c.jute_max_buffer, 0x200000);
    assert!(!c.extended_types_enabled);
    assert_eq!(c.four_letter_whitelist, vec!["ruok", "mntr"]);
    assert_eq!(c.servers[&1].election_port, 3888);
    assert_eq!(c.server_id, 1);
    assert_eq!(c.autopurge_snap_retain_count, 4);
    assert_eq!(
        (c.min_session_timeout_ms, c.max_session_timeout_ms),
        (2000, 20000)
    );
    Ok(())
}

#[test]
fn bad_toml_names_the_file() -> TestResult {
    let (_dir, path) = write_file("bad.toml", "tickTime = \n")?;
    let err = format!(
        "{:#}",
        Config::load(Some(&path), &[])
            .err()
            .ok_or_else(|| anyhow!("loaded"))?
    );
    assert!(err.contains("bad.toml"), "{err}");
    let (_dir, path) = write_file("float.toml", "tickTime = 1.5\n")?;
    let err = format!(
        "{:#}",
        Config::load(Some(&path), &[])
            .err()
            .ok_or_else(|| anyhow!("loaded"))?
    );
    assert!(
        err.contains("tickTime") && err.contains("float.toml"),
        "{err}"
    );
    Ok(())
}

#[test]
fn set_overrides_file_in_order() -> TestResult {
    let (_dir, path) = write_file(
        "zoo.cfg",
        "tickTime=2000\nclientPort=2181\nclientPortAddress=10.1.1.1\n",
    )?;
    let c = Config::load(
        Some(&path),
        &sets(&["clientPort=3000", "tickTime = 500", "clientPort=3001"]),
    )?;
    assert_eq!(c.client_port, 3001);
    assert_eq!(c.tick_time_ms, 500);
    assert_eq!(c.client_port_address, "10.1.1.1");
    // Derived after everything: the --set tickTime drives the defaults.
    assert_eq!(
        (c.min_session_timeout_ms, c.max_session_timeout_ms),
        (1000, 10000)
    );
    assert!(Config::load(None, &sets(&["tickTime"])).is_err(), "no '='");
    Ok(())
}

#[test]
fn session_timeout_bounds() -> TestResult {
    let c = Config::load(None, &sets(&["minSessionTimeout=100", "tickTime=10"]))?;
    assert_eq!(
        (c.min_session_timeout_ms, c.max_session_timeout_ms),
        (100, 200)
    );
    let c = Config::load(
        None,
        &sets(&[
            "maxSessionTimeout=90000",
            "minSessionTimeout=-1",
            "tickTime=3000",
        ]),
    )?;
    assert_eq!(
        (c.min_session_timeout_ms, c.max_session_timeout_ms),
        (6000, 90000)
    );
    assert!(Config::load(None, &sets(&["minSessionTimeout=50000"])).is_err());
    assert!(Config::load(None, &sets(&["maxSessionTimeout=-2"])).is_err());
    Ok(())
}

#[test]
fn unknown_and_ignored_keys_do_not_fail() -> TestResult {
    let (_dir, path) = write_file(
        "zoo.cfg",
        "standaloneEnabled=false\nreconfigEnabled=true\nsecureClientPort=2281\n\
         metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider\n\
         quorumListenOnAllIPs=true\nelectionAlg=3\nnoSuchKey=whatever\nzookeeper.jute.maxbuffer=1\n",
    )?;
    let c = Config::load(Some(&path), &sets(&["alsoUnknown=1"]))?;
    assert_eq!(c.jute_max_buffer, 0xfffff);
    assert_eq!(
        Builder::default().set("noSuchKey", "x"),
        Ok(Recognized::Unknown)
    );
    assert_eq!(
        Builder::default().set("zookeeper.sslQuorum", "true"),
        Ok(Recognized::Ignored)
    );
    assert_eq!(
        Builder::default().set("tickTime", "1"),
        Ok(Recognized::Applied)
    );
    Ok(())
}

#[test]
fn bad_values_fail_naming_key_and_file() -> TestResult {
    let (_dir, path) = write_file("zoo.cfg", "# c\ntickTime=abc\n")?;
    let err = format!(
        "{:#}",
        Config::load(Some(&path), &[])
            .err()
            .ok_or_else(|| anyhow!("loaded"))?
    );
    assert!(err.contains("tickTime"), "{err}");
    assert!(err.contains("zoo.cfg:2"), "{err}");
    for bad in [
        "clientPort=65536",
        "tickTime=0",
        "forceSync=maybe",
        "jute.maxbuffer=0xZZ",
        "maxClientCnxns=-1",
        "server.x=h:1:2",
        "dataDir=",
        "zookeeper.DigestAuthenticationProvider.superDigest=nocolon",
    ] {
        let err = Config::load(None, &sets(&[bad]))
            .err()
            .map(|e| format!("{e:#}"))
            .ok_or_else(|| anyhow!("{bad} was accepted"))?;
        let key = bad.split('=').next().unwrap_or_default();
        assert!(err.contains(key), "{bad}: {err}");
    }
    Ok(())
}

#[test]
fn myid_file_is_read_for_ensembles() -> TestResult {
    let dir = tempfile::tempdir()?;
    fs::write(dir.path().join("myid"), "2\n")?;
    let data_dir = format!("dataDir={}", dir.path().display());
    let ensemble = sets(&[
        &data_dir,
        "server.1=127.0.0.1:2888:3888",
        "server.2=127.0.0.1:2889:3889",
    ]);
    let c = Config::load(None, &ensemble)?;
    assert_eq!(c.server_id, 2);
    assert_eq!(c.local_server().map(|s| s.election_port), Some(3889));

    // Standalone ignores the file; an explicit myid key wins over it.
    assert_eq!(Config::load(None, &sets(&[&data_dir]))?.server_id, 0);
    let mut explicit = ensemble.clone();
    explicit.push("myid=1".into());
    assert_eq!(Config::load(None, &explicit)?.server_id, 1);

    // Absent file: not an error.
    let empty = tempfile::tempdir()?;
    let c = Config::load(
        None,
        &sets(&[
            &format!("dataDir={}", empty.path().display()),
            "server.1=127.0.0.1:2888:3888",
        ]),
    )?;
    assert_eq!(c.server_id, 0);

    // Garbage in the file is an error naming it.
    fs::write(dir.path().join("myid"), "two")?;
    let err = format!(
        "{:#}",
        Config::load(None, &ensemble)
            .err()
            .ok_or_else(|| anyhow!("loaded"))?
    );
    assert!(err.contains("myid"), "{err}");
    Ok(())
}

#[test]
fn conf_matches_zookeeper_standalone() -> TestResult {
    let c = Config::load(None, &sets(&["dataDir=/tmp/zkt/data", "clientPort=0"]))?;
    let text = c.conf_text(&ConfRuntime {
        client_port: 22181,
        data_dir_size: 457,
        data_log_size: 457,
    });
    // Captured from ZooKeeper 3.8.0's `conf` with the same settings.
    assert_eq!(
        text,
        "clientPort=22181\nsecureClientPort=-1\ndataDir=/tmp/zkt/data/version-2\n\
         dataDirSize=457\ndataLogDir=/tmp/zkt/data/version-2\ndataLogSize=457\n\
         tickTime=2000\nmaxClientCnxns=60\nminSessionTimeout=4000\n\
         maxSessionTimeout=40000\nclientPortListenBacklog=-1\nserverId=0\n"
    );
    let keys: Vec<String> = c.conf_lines().into_iter().map(|(k, _)| k).collect();
    assert_eq!(
        keys,
        [
            "clientPort",
            "secureClientPort",
            "dataDir",
            "dataLogDir",
            "tickTime",
            "maxClientCnxns",
            "minSessionTimeout",
            "maxSessionTimeout",
            "clientPortListenBacklog",
            "serverId"
        ]
    );
    Ok(())
}

#[test]
fn conf_matches_zookeeper_ensemble() -> TestResult {
    let c = Config::load(
        None,
        &sets(&[
            "dataDir=/tmp/zkt/q/./data",
            "clientPort=22182",
            "server.1=127.0.0.1:22888:23888",
            "myid=1",
        ]),
    )?;
    let text = c.conf_text(&ConfRuntime {
        client_port: 22182,
        data_dir_size: 511,
        data_log_size: 511,
    });
    // Captured from ZooKeeper 3.8.0 (QuorumPeerMain, standaloneEnabled=false).
    assert_eq!(
        text,
        "clientPort=22182\nsecureClientPort=-1\ndataDir=/tmp/zkt/q/./data/version-2\n\
         dataDirSize=511\ndataLogDir=/tmp/zkt/q/./data/version-2\ndataLogSize=511\n\
         tickTime=2000\nmaxClientCnxns=60\nminSessionTimeout=4000\n\
         maxSessionTimeout=40000\nclientPortListenBacklog=-1\nserverId=1\n\
         initLimit=10\nsyncLimit=5\nelectionAlg=3\nelectionPort=23888\n\
         quorumPort=22888\npeerType=0\nmembership: \n\
         server.1=127.0.0.1:22888:23888:participant\nversion=0"
    );
    Ok(())
}

#[test]
fn conf_data_dir_is_absolute() -> TestResult {
    let c = Config::default();
    let lines = c.conf_lines();
    let data_dir = lines
        .iter()
        .find(|(k, _)| k == "dataDir")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let expected = std::env::current_dir()?.join("./data").join("version-2");
    assert_eq!(data_dir, expected.display().to_string());
    Ok(())
}

#[test]
fn shipped_sample_configs_load() -> TestResult {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let toml = Config::load(Some(&root.join("conf/corral.toml")), &[])?;
    assert_eq!(
        toml,
        Config::default(),
        "corral.toml documents the defaults"
    );
    let zoo = Config::load(Some(&root.join("conf/zoo.cfg")), &[])?;
    assert_eq!(zoo.client_port_address, "127.0.0.1");
    assert_eq!(zoo.client_port, 2181);
    assert_eq!(zoo.four_letter_whitelist, vec!["*"]);
    Ok(())
}
