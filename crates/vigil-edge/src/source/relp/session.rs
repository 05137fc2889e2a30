//! One RELP session's protocol state, without I/O: `open` first (answered with the offers
//! Vigil supports), then `syslog` frames in transaction-number order, then `close`. Every
//! frame gets exactly one `rsp`, in order; refused frames get a 500 with the reason.

use super::frame::{Frame, MAX_TXNR};

/// The RELP version spoken.
const RELP_VERSION: &str = "0";

/// What to do with one frame.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Answer now (an accepted `open`, or a refused frame the session survives).
    Answer(Response),
    /// A syslog message: answer 200 once it is durably written.
    Line {
        /// Its transaction number.
        txnr: u32,
        /// The message.
        data: Vec<u8>,
    },
    /// `close`: answer after every earlier frame, then end the session.
    Close(Response),
    /// A frame that ends the session (answered with a 500 after every earlier frame).
    Refuse(Response),
}

/// A `rsp` frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The transaction it answers.
    pub txnr: u32,
    /// 200 or 500.
    pub code: u16,
    /// The text after the code (for `open`, the offers on the following lines).
    pub text: String,
}

impl Response {
    /// `200 OK` for `txnr`.
    pub fn ok(txnr: u32) -> Response {
        Response {
            txnr,
            code: 200,
            text: "OK".into(),
        }
    }

    /// A 500 for `txnr` giving `reason`.
    pub fn error(txnr: u32, reason: impl Into<String>) -> Response {
        Response {
            txnr,
            code: 500,
            text: reason.into(),
        }
    }

    /// The frame's bytes.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let data = format!("{} {}", self.code, self.text);
        out.extend_from_slice(format!("{} rsp {} {data}\n", self.txnr, data.len()).as_bytes());
    }
}

/// A session's state.
#[derive(Debug, Default)]
pub struct Protocol {
    /// The transaction number the next frame must carry, once open.
    expected: Option<u32>,
}

/// The transaction number after `txnr` (the sender wraps to 1 after [`MAX_TXNR`]).
pub fn next_txnr(txnr: u32) -> u32 {
    if txnr >= MAX_TXNR { 1 } else { txnr + 1 }
}

impl Protocol {
    /// Handles one frame.
    pub fn step(&mut self, frame: Frame) -> Step {
        let txnr = frame.txnr;
        let Some(expected) = self.expected else {
            return match frame.command.as_str() {
                "open" => self.open(frame),
                other => Step::Refuse(Response::error(
                    txnr,
                    format!("{other:?} before open: a session starts with open"),
                )),
            };
        };
        if txnr != expected {
            return out_of_order(txnr, expected);
        }
        self.expected = Some(next_txnr(txnr));
        match frame.command.as_str() {
            "syslog" => Step::Line {
                txnr,
                data: frame.data,
            },
            "close" => Step::Close(Response::ok(txnr)),
            "open" => Step::Refuse(Response::error(txnr, "open twice in one session")),
            other => Step::Answer(Response::error(
                txnr,
                format!("command {other:?} not supported (only syslog)"),
            )),
        }
    }

    /// A frame the decoder refused before its command was read (its data too long): answered
    /// with `reason` if it comes in order, like any other frame.
    pub fn refused(&mut self, txnr: u32, reason: String) -> Step {
        match self.expected {
            Some(expected) if expected == txnr => {
                self.expected = Some(next_txnr(txnr));
                Step::Answer(Response::error(txnr, reason))
            }
            Some(expected) => out_of_order(txnr, expected),
            None => Step::Refuse(Response::error(
                txnr,
                "a refused frame before open: a session starts with open",
            )),
        }
    }

    fn open(&mut self, frame: Frame) -> Step {
        let txnr = frame.txnr;
        let offers = String::from_utf8_lossy(&frame.data);
        let mut version = None;
        let mut syslog = false;
        for line in offers.lines() {
            let (name, value) = line.split_once('=').unwrap_or((line, ""));
            match name {
                "relp_version" => version = Some(value.trim().to_string()),
                "commands" => syslog = value.split(',').any(|c| c.trim() == "syslog"),
                _ => {}
            }
        }
        if version.is_none() {
            return Step::Refuse(Response::error(txnr, "open without relp_version"));
        }
        if !syslog {
            return Step::Refuse(Response::error(
                txnr,
                "open does not offer the syslog command, the only one supported",
            ));
        }
        self.expected = Some(next_txnr(txnr));
        Step::Answer(Response {
            txnr,
            code: 200,
            text: format!(
                "OK\nrelp_version={RELP_VERSION}\nrelp_software=vigil-edge,{}\ncommands=syslog",
                env!("CARGO_PKG_VERSION")
            ),
        })
    }
}

fn out_of_order(txnr: u32, expected: u32) -> Step {
    Step::Refuse(Response::error(
        txnr,
        format!("transaction number {txnr} out of order: {expected} expected"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(txnr: u32, command: &str, data: &str) -> Frame {
        Frame {
            txnr,
            command: command.into(),
            data: data.as_bytes().to_vec(),
        }
    }

    fn open(p: &mut Protocol, txnr: u32) {
        let step = p.step(frame(
            txnr,
            "open",
            "relp_version=0\nrelp_software=librelp,1.11.0,https://x\ncommands=syslog",
        ));
        let Step::Answer(r) = step else {
            panic!("{step:?}")
        };
        assert_eq!((r.txnr, r.code), (txnr, 200));
        assert!(r.text.starts_with("OK\nrelp_version=0\n"), "{}", r.text);
        assert!(r.text.ends_with("\ncommands=syslog"), "{}", r.text);
    }

    #[test]
    fn a_session_from_open_to_close() {
        let mut p = Protocol::default();
        open(&mut p, 1);
        assert_eq!(
            p.step(frame(2, "syslog", "<13>a")),
            Step::Line {
                txnr: 2,
                data: b"<13>a".to_vec()
            }
        );
        assert_eq!(
            p.step(frame(3, "starttls", "")),
            Step::Answer(Response::error(
                3,
                "command \"starttls\" not supported (only syslog)"
            ))
        );
        assert_eq!(
            p.refused(4, "too long".into()),
            Step::Answer(Response::error(4, "too long")),
            "a refused frame takes its turn"
        );
        assert!(matches!(
            p.step(frame(5, "syslog", "x")),
            Step::Line { txnr: 5, .. }
        ));
        assert_eq!(p.step(frame(6, "close", "")), Step::Close(Response::ok(6)));
    }

    #[test]
    fn transaction_numbers_follow_each_other_and_wrap() {
        let mut p = Protocol::default();
        open(&mut p, MAX_TXNR);
        assert!(matches!(
            p.step(frame(1, "syslog", "x")),
            Step::Line { txnr: 1, .. }
        ));
        assert_eq!(
            p.step(frame(3, "syslog", "x")),
            Step::Refuse(Response::error(
                3,
                "transaction number 3 out of order: 2 expected"
            ))
        );
    }

    #[test]
    fn what_is_refused_before_and_at_open() {
        let mut p = Protocol::default();
        assert_eq!(
            p.step(frame(1, "syslog", "x")),
            Step::Refuse(Response::error(
                1,
                "\"syslog\" before open: a session starts with open"
            ))
        );
        assert_eq!(
            p.step(frame(1, "open", "relp_version=0\ncommands=starttls")),
            Step::Refuse(Response::error(
                1,
                "open does not offer the syslog command, the only one supported"
            ))
        );
        assert_eq!(
            p.step(frame(1, "open", "commands=syslog")),
            Step::Refuse(Response::error(1, "open without relp_version"))
        );
    }

    #[test]
    fn responses_on_the_wire() {
        let mut out = Vec::new();
        Response::ok(7).encode(&mut out);
        Response::error(8, "no").encode(&mut out);
        assert_eq!(out, b"7 rsp 6 200 OK\n8 rsp 6 500 no\n");
    }
}
