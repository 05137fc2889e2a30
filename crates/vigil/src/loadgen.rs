//! Load for a real `vigil server` over the OSSIM agent protocol: sessions and realistic event
//! lines. Used by `vigil bench` and the end-to-end tests (with [`crate::process`]).

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};

use anyhow::bail;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use vigil_event::Uuid;

/// The id of event `seq` sent on connection `conn`: the crash test finds every event by it.
pub fn event_id(conn: u32, seq: u64) -> Uuid {
    Uuid::from_u128((u128::from(conn) << 64) | u128::from(seq))
}

/// A 5.x agent's `connect` line for sensor number `conn`.
pub fn connect_line(conn: u32) -> String {
    format!(
        "connect id=\"1\" type=\"sensor\" version=\"5.8.0\" sensor_id=\"{}\"\n",
        Uuid::from_u128(0xa9e7_0000 + u128::from(conn))
    )
}

/// A realistic sshd "Failed password" event line as a 5.x agent sends it (about 420 bytes).
pub fn event_line(conn: u32, seq: u64, epoch_secs: i64) -> String {
    let attacker = format!("203.0.{}.{}", (seq / 250) % 250, seq % 250 + 1);
    let port = 1024 + seq % 60_000;
    let log = format!(
        "Nov 22 10:00:00 srv{conn} sshd[4242]: Failed password for invalid user admin from {attacker} port {port} ssh2"
    );
    format!(
        "event type=\"detector\" date=\"{epoch_secs}\" device=\"10.0.{c}.1\" interface=\"eth0\" plugin_id=\"4003\" plugin_sid=\"1\" src_ip=\"{attacker}\" src_port=\"{port}\" dst_ip=\"10.0.{c}.10\" dst_port=\"22\" protocol=\"TCP\" username=\"{user}\" userdata1=\"{tag}\" log=\"{log}\" tzone=\"0.0\" event_id=\"{id}\"\n",
        c = conn % 250,
        user = STANDARD.encode("admin"),
        tag = STANDARD.encode(format!("c{conn}-s{seq}")),
        log = STANDARD.encode(log),
        id = event_id(conn, seq),
    )
}

/// Opens an agent session: sends `connect` for sensor `conn` and checks the `ok` reply.
pub fn open_session(addr: SocketAddr, conn: u32) -> anyhow::Result<TcpStream> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    stream.write_all(connect_line(conn).as_bytes())?;
    let mut reply = String::new();
    BufReader::new(stream.try_clone()?).read_line(&mut reply)?;
    if reply != "ok id=\"1\"\n" {
        bail!("connect answered {reply:?}");
    }
    Ok(stream)
}
