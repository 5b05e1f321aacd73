//! The command-line contract of DESIGN section 3: exit codes, messages, JSON shapes.

mod common;

use std::process::{Command, Output};

use common::{PATIENCE, Setup, unreachable_channel};

fn vigie(config: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vigie"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env_clear()
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_broken_config_exits_78_naming_file_and_key() {
    let setup = Setup::new(
        "[[channel]]\nname = \"a\"\nkind = \"mirakl\"\nbase_url = \"https://x.example\"\napi_key = \"k\"\n\
         [[channel]]\nname = \"b\"\nkind = \"mirakl\"\nbase_url = \"ftp://x.example\"\napi_key = \"k\"\n",
    );
    for command in [
        &["check-config"][..],
        &["run", "--once"],
        &["orders"],
        &["status"],
    ] {
        let out = vigie(&setup.config, command);
        assert_eq!(out.status.code(), Some(78), "{command:?}");
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains(&setup.config.display().to_string()),
            "{stderr}"
        );
        assert!(stderr.contains("channel[1].base_url"), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
}

#[test]
fn a_missing_config_exits_78() {
    let out = vigie(
        std::path::Path::new("/nonexistent/vigie.toml"),
        &["check-config"],
    );
    assert_eq!(out.status.code(), Some(78));
    assert!(text(&out.stderr).contains("/nonexistent/vigie.toml"));
}

#[test]
fn check_config_prints_a_summary_without_secrets() {
    let setup = Setup::new(
        "[[channel]]\nname = \"lm\"\nkind = \"mirakl\"\nbase_url = \"https://op:URLPASS@x.example/mmp?token=URLTOKEN\"\napi_key = \"sk-live-TOPSECRET\"\n\
         [[alerts.webhook]]\nurl = \"https://hooks.slack.com/services/T0/B0/HOOKSECRET\"\nformat = \"slack\"\n",
    );
    let out = vigie(&setup.config, &["check-config"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let all = text(&out.stdout) + &text(&out.stderr);
    assert!(all.contains("channel lm (mirakl)"), "{all}");
    assert!(!all.contains("TOPSECRET"), "{all}");
    assert!(!all.contains("HOOKSECRET"), "{all}");
    assert!(
        !all.contains("URLPASS") && !all.contains("URLTOKEN"),
        "{all}"
    );
}

#[test]
fn an_unusable_state_directory_is_one_line_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "").unwrap();
    let config = dir.path().join("vigie.toml");
    std::fs::write(
        &config,
        format!(
            "[daemon]\nstate_dir = \"{}\"\n{}",
            blocker.join("state").display(),
            unreachable_channel("lm")
        ),
    )
    .unwrap();
    let out = vigie(&config, &["orders"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.starts_with("vigie: state directory "), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn an_emptied_database_is_one_line_and_exit_1_for_the_daemon_and_every_command() {
    let setup = Setup::new(&unreachable_channel("lm"));
    let state = setup.dir.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    let database = state.join("vigie.db");
    std::fs::write(&database, b"").unwrap();
    for command in [
        &["run", "--once"][..],
        &["orders"],
        &["status"],
        &["stock", "show"],
    ] {
        let out = vigie(&setup.config, command);
        assert_eq!(out.status.code(), Some(1), "{command:?}");
        let stderr = text(&out.stderr);
        let last = stderr.lines().last().unwrap_or_default();
        assert!(
            last.contains("vigie.db") && last.contains("empty") && last.contains("backup"),
            "{command:?}: {stderr}"
        );
    }
    assert_eq!(
        std::fs::metadata(&database).unwrap().len(),
        0,
        "nothing written"
    );
}

#[test]
fn orders_and_status_speak_json_on_a_fresh_database() {
    let setup = Setup::new(
        "[[channel]]\nname = \"lm\"\nkind = \"mirakl\"\nbase_url = \"https://x.example\"\napi_key = \"k\"\n",
    );
    let out = vigie(&setup.config, &["orders", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let orders: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(orders, serde_json::json!([]));

    let out = vigie(&setup.config, &["status", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["channels"][0]["name"], "lm");
    assert_eq!(status["channels"][0]["kind"], "mirakl");
}

#[test]
fn a_reader_that_went_away_ends_the_output_quietly() {
    let setup = Setup::new(
        "[[channel]]\nname = \"lm\"\nkind = \"mirakl\"\nbase_url = \"https://x.example\"\napi_key = \"k\"\n",
    );
    for command in [&["check-config"][..], &["orders", "--json"], &["status"]] {
        // `vigie … | head -0`: the reading end is closed before vigie writes a byte.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = Command::new(env!("CARGO_BIN_EXE_vigie"))
            .arg("--config")
            .arg(&setup.config)
            .args(command)
            .env_clear()
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{command:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{command:?}: {stderr}");
    }
}

/// `stock show --json` writes its rows as it reads them; the bytes are still the array
/// `serde_json::to_string_pretty` printed of every row at once (DESIGN section 3).
#[test]
fn stock_show_json_streams_the_array_it_always_printed() {
    use vigie::store::{Store, StoreError, pushes, stock};

    let setup = Setup::new(
        "[[channel]]\nname = \"lm\"\nkind = \"mirakl\"\nbase_url = \"https://x.example\"\napi_key = \"k\"\n",
    );
    let show = |args: &[&str]| {
        let out = vigie(
            &setup.config,
            &[&["stock", "show", "--json"][..], args].concat(),
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    assert_eq!(show(&[]), "[]\n");

    let store = Store::open(&setup.dir.path().join("state")).unwrap();
    let now = vigie::store::now_text();
    store
        .with(|c| {
            for (sku, quantity, tags) in [
                ("A-1", 3, vec!["fragile".to_owned()]),
                ("B-2", 0, vec![]),
                ("C-3", 7, vec![]),
            ] {
                let item = stock::StockItem {
                    sku: sku.to_owned(),
                    quantity,
                    tags,
                };
                stock::set(c, &item, &now)?;
            }
            let tx = c.transaction()?;
            // Pushes for a listed SKU, for two channels, and for a SKU no longer listed.
            pushes::record(
                &tx,
                "lm",
                "t1",
                &[("A-1".to_owned(), 3), ("ZZ".to_owned(), 1)],
                &now,
                jiff::Timestamp::now(),
            )?;
            pushes::record(
                &tx,
                "fnac",
                "t2",
                &[("A-1".to_owned(), 2), ("C-3".to_owned(), 7)],
                &now,
                jiff::Timestamp::now(),
            )?;
            tx.commit()?;
            Ok(())
        })
        .unwrap();
    let every_row = |sku: Option<&str>| {
        let mut rows = Vec::new();
        store
            .with(|c| {
                stock::show(c, sku, 0, |row| {
                    rows.push(row);
                    Ok::<_, StoreError>(())
                })
            })
            .unwrap();
        rows
    };
    let rows = every_row(None);
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0].pushed.len(), 2, "{rows:?}");
    assert_eq!(
        show(&[]),
        serde_json::to_string_pretty(&rows).unwrap() + "\n"
    );
    assert_eq!(
        show(&["C-3"]),
        serde_json::to_string_pretty(&every_row(Some("C-3"))).unwrap() + "\n"
    );
    assert_eq!(show(&["nope"]), "[]\n");
}

#[test]
fn a_config_without_a_channel_exits_78_naming_the_file() {
    let setup = Setup::new("");
    let empty = setup.dir.path().join("empty.toml");
    std::fs::write(&empty, "").unwrap();
    for config in [&setup.config, &empty] {
        for command in [&["check-config"][..], &["run"], &["run", "--once"]] {
            let out = vigie(config, command);
            assert_eq!(out.status.code(), Some(78), "{command:?}");
            let stderr = text(&out.stderr);
            assert!(
                stderr.contains(&config.display().to_string())
                    && stderr.contains("no channel configured"),
                "{command:?}: {stderr}"
            );
        }
    }
}

/// A directory only its owner can enter, holding `vigie.toml` (mode 0600) with `channel`.
fn private_setup(channel: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("vigie.toml");
    std::fs::write(
        &config,
        format!(
            "[daemon]\nstate_dir = \"{}\"\n{channel}",
            dir.path().join("state").display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();
    (dir, config)
}

fn chmod(path: &std::path::Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn a_secret_others_can_read_draws_a_warning_with_the_chmod_to_run() {
    let channel = |secret: &str| {
        format!(
            "[[channel]]\nname = \"lm\"\nkind = \"mirakl\"\nbase_url = \"http://127.0.0.1:1\"\nlimits = {{ orders_per_minute = 600 }}\n{secret}\n"
        )
    };
    // in a secret file
    let (dir, config) = private_setup(&channel("api_key_file = \"lm.key\""));
    let key = dir.path().join("lm.key");
    std::fs::write(&key, "sk-live-TOPSECRET\n").unwrap();
    chmod(&key, 0o644);
    let chmod_to_run = format!("chmod 600 {}", key.display());
    let out = vigie(&config, &["check-config"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains(&chmod_to_run), "{stderr}");
    assert!(!stderr.contains("TOPSECRET"), "{stderr}");
    // and in the daemon's log at start
    let out = vigie(&config, &["run", "--once"]);
    assert!(
        text(&out.stderr).contains(&chmod_to_run),
        "{}",
        text(&out.stderr)
    );
    chmod(&key, 0o600);
    let out = vigie(&config, &["check-config"]);
    assert!(
        !text(&out.stderr).contains("chmod"),
        "{}",
        text(&out.stderr)
    );

    // written inline in a configuration file others can read
    let (_dir, config) = private_setup(&channel("api_key = \"sk-live-TOPSECRET\""));
    let out = vigie(&config, &["check-config"]);
    assert!(
        !text(&out.stderr).contains("chmod"),
        "{}",
        text(&out.stderr)
    );
    chmod(&config, 0o640);
    let out = vigie(&config, &["check-config"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!("chmod 600 {}", config.display())),
        "{stderr}"
    );
}

#[test]
fn a_fifo_or_a_device_given_as_a_secret_file_is_refused_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("lm.key");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
    for secret_file in [fifo.as_path(), std::path::Path::new("/dev/null")] {
        let (_dir, config) = private_setup(&format!(
            "[[channel]]\nname = \"lm\"\nkind = \"mirakl\"\nbase_url = \"http://127.0.0.1:1\"\napi_key_file = \"{}\"\n",
            secret_file.display()
        ));
        // Opening a FIFO waits for a writer: a vigie that tries never ends.
        let mut child = Command::new(env!("CARGO_BIN_EXE_vigie"))
            .arg("--config")
            .arg(&config)
            .arg("check-config")
            .env_clear()
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + PATIENCE;
        while child.try_wait().unwrap().is_none() {
            if std::time::Instant::now() > deadline {
                child.kill().unwrap();
                panic!("vigie still reads {}", secret_file.display());
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(78));
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains("channel[0].api_key_file") && stderr.contains("not a plain file"),
            "{stderr}"
        );
    }
}

#[test]
fn backup_copies_the_database_while_the_daemon_runs_and_never_overwrites_unasked() {
    let setup = Setup::new(&unreachable_channel("lm"));
    let out = vigie(&setup.config, &["stock", "set", "SKU-A", "7"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let daemon = common::Daemon::start(&setup.config, &["run"], &[]);
    daemon.wait_for_log("status server on");
    let copy = setup.dir.path().join("copy.db");
    let copy_arg = copy.to_str().unwrap();

    let out = vigie(&setup.config, &["backup", copy_arg]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("backed up "),
        "{}",
        text(&out.stdout)
    );
    let restored = rusqlite::Connection::open(&copy).unwrap();
    let on_hand = common::count(&restored, "SELECT on_hand FROM stock WHERE sku = 'SKU-A'");
    assert_eq!(on_hand, 7);

    let again = vigie(&setup.config, &["backup", copy_arg]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        text(&again.stderr).contains("already exists; give --force"),
        "{}",
        text(&again.stderr)
    );
    let forced = vigie(&setup.config, &["backup", "--force", copy_arg]);
    assert!(forced.status.success(), "{}", text(&forced.stderr));
}

#[test]
fn completions_and_manual_pages_cover_every_command() {
    let setup = Setup::new(&unreachable_channel("lm"));
    let commands = [
        "run",
        "check-config",
        "orders",
        "status",
        "report",
        "review",
        "stock",
        "backup",
    ];

    let bash = vigie(&setup.config, &["completions", "bash"]);
    assert!(bash.status.success(), "{}", text(&bash.stderr));
    let script = setup.dir.path().join("vigie.bash");
    std::fs::write(&script, &bash.stdout).unwrap();
    let syntax = Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .unwrap();
    assert!(syntax.status.success(), "{}", text(&syntax.stderr));
    for shell in ["zsh", "fish"] {
        let out = vigie(&setup.config, &["completions", shell]);
        assert!(out.status.success(), "{shell}: {}", text(&out.stderr));
        for command in commands {
            assert!(text(&out.stdout).contains(command), "{shell}: no {command}");
        }
    }

    let pages = setup.dir.path().join("man");
    let out = vigie(&setup.config, &["man", pages.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let main_page = std::fs::read_to_string(pages.join("vigie.1")).unwrap();
    assert!(
        main_page.starts_with(".ie") && main_page.contains(".TH vigie 1"),
        "{main_page}"
    );
    for command in commands {
        assert!(
            main_page.contains(&format!("vigie\\-{}", command.replace('-', "\\-"))),
            "no {command} in vigie.1"
        );
        assert!(
            pages.join(format!("vigie-{command}.1")).exists(),
            "no page for {command}"
        );
    }
}
