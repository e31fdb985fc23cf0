//! A minimal HTTP/1.1 client over one keep-alive TCP connection, and a
//! `rootcause mcp --http` process on a free loopback port: enough to send
//! MCP JSON-RPC requests (valid or not) without an HTTP library.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running `rootcause mcp --http` server, killed on drop.
pub struct McpServer {
    pub child: Child,
    pub addr: String,
}

impl McpServer {
    /// Start `bin mcp --http 127.0.0.1:0 args…` with `key` as session key;
    /// reads the bound address from its first stderr line.
    pub fn start(bin: &str, key: &str, args: &[&str]) -> McpServer {
        let mut child = Command::new(bin)
            .args(["mcp", "--http", "127.0.0.1:0"])
            .args(args)
            .env("ROOTCAUSE_SESSION_KEY", key)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn rootcause mcp --http");
        let stderr = child.stderr.take().expect("stderr");
        let mut lines = BufReader::new(stderr).lines();
        let line = lines
            .next()
            .expect("the server says where it listens")
            .expect("readable stderr");
        let addr = line
            .split("http://")
            .nth(1)
            .and_then(|s| s.strip_suffix("/mcp"))
            .unwrap_or_else(|| panic!("unexpected first line: {line}"))
            .to_string();
        // Keep draining the request log so the server never blocks on it.
        std::thread::spawn(move || for _ in lines {});
        McpServer { child, addr }
    }

    pub fn url(&self) -> String {
        format!("http://{}/mcp", self.addr)
    }

    pub fn connect(&self) -> Conn {
        Conn::new(&self.addr)
    }
}

impl Drop for McpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One keep-alive connection.
pub struct Conn {
    addr: String,
    reader: BufReader<TcpStream>,
    pub auth: Option<String>,
}

/// A response: status and body.
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Reply {
    /// The JSON body (or the first `data:` event of an SSE body).
    pub fn json(&self) -> serde_json::Value {
        let text = String::from_utf8_lossy(&self.body);
        let json = text
            .lines()
            .find_map(|l| l.strip_prefix("data:"))
            .unwrap_or(&text);
        serde_json::from_str(json.trim()).unwrap_or(serde_json::Value::Null)
    }
}

impl Conn {
    pub fn new(addr: &str) -> Conn {
        let stream = TcpStream::connect(addr).expect("connect to the MCP server");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        stream.set_nodelay(true).expect("nodelay");
        Conn {
            addr: addr.to_string(),
            reader: BufReader::new(stream),
            auth: None,
        }
    }

    /// Open a new connection after the server closed this one.
    pub fn reconnect(&mut self) {
        let auth = self.auth.take();
        *self = Conn::new(&self.addr);
        self.auth = auth;
    }

    /// POST `body` to `path`; `None` when the server closed the connection.
    pub fn post(&mut self, path: &str, body: &[u8]) -> Option<Reply> {
        let mut head = format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: {}\r\n",
            body.len()
        );
        if let Some(a) = &self.auth {
            head.push_str(&format!("Authorization: Bearer {a}\r\n"));
        }
        head.push_str("\r\n");
        let s = self.reader.get_mut();
        s.write_all(head.as_bytes()).ok()?;
        s.write_all(body).ok()?;
        self.read_reply()
    }

    /// Send raw bytes (a broken request) and read whatever comes back.
    pub fn raw(&mut self, bytes: &[u8]) -> Option<Reply> {
        self.reader.get_mut().write_all(bytes).ok()?;
        self.read_reply()
    }

    /// A JSON-RPC `tools/call`.
    pub fn call_tool(&mut self, id: u64, name: &str, args: serde_json::Value) -> Option<Reply> {
        let req = serde_json::json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": {"name": name, "arguments": args}});
        self.post("/mcp", req.to_string().as_bytes())
    }

    fn read_reply(&mut self) -> Option<Reply> {
        let mut line = String::new();
        if self.reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let status: u16 = line.split_whitespace().nth(1)?.parse().ok()?;
        let mut length = None;
        let mut chunked = false;
        loop {
            let mut h = String::new();
            if self.reader.read_line(&mut h).ok()? == 0 {
                return None;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            let (k, v) = h.split_once(':')?;
            match k.to_ascii_lowercase().as_str() {
                "content-length" => length = v.trim().parse().ok(),
                "transfer-encoding" => chunked = v.trim().eq_ignore_ascii_case("chunked"),
                _ => {}
            }
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                let mut size = String::new();
                self.reader.read_line(&mut size).ok()?;
                let n = usize::from_str_radix(size.trim(), 16).ok()?;
                let mut chunk = vec![0; n + 2];
                self.reader.read_exact(&mut chunk).ok()?;
                if n == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..n]);
            }
        } else if let Some(n) = length {
            body.resize(n, 0);
            self.reader.read_exact(&mut body).ok()?;
        }
        Some(Reply { status, body })
    }
}
