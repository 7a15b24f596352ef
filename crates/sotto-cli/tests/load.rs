//! Many clients on one gateway at once (`sotto bench load`), in CI at a size two cores carry
//! in seconds; `sotto bench load --clients 1000` is the full run (docs/performance.md).

use std::path::Path;
use std::process::Command;

use sotto_testnet::TestLocalnet;

#[test]
fn forty_clients_on_one_gateway_get_every_message_pushed() {
    let net = TestLocalnet::start(Path::new(env!("CARGO_BIN_EXE_sotto")), 5);
    let out = Command::new(env!("CARGO_BIN_EXE_sotto"))
        .args([
            "bench",
            "load",
            "--clients",
            "40",
            "--messages",
            "3",
            "--network",
        ])
        .arg(net.root().join("network.toml"))
        .output()
        .expect("running sotto bench load");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("120 messages delivered as pushes"),
        "{stdout}"
    );
    assert!(stdout.trim_end().ends_with("errors 0"), "{stdout}");
}
