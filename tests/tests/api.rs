//! The Web API and the metrics endpoint through the binary, with curl as the client.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::time::{Duration, Instant};

use gost_e2e::*;
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(20);

fn api_of(g: &Gost) -> SocketAddr {
    g.logged_addr("api service on ", WAIT)
}

/// curl against the API: (HTTP status, body). `extra` goes before the URL.
fn call(method: &str, url: &str, extra: &[&str]) -> (u16, String) {
    let mut args = vec!["-X", method, "-w", "\n%{http_code}"];
    args.extend_from_slice(extra);
    args.push(url);
    let (_, out) = curl(&args);
    let (body, code) = out.rsplit_once('\n').unwrap();
    (code.trim().parse().unwrap_or(0), body.to_owned())
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[test]
fn stats_of_a_1mib_transfer_show_in_get_config() {
    let echo = echo_server();
    let g = Gost::start(
        &["-L", &format!("tcp://127.0.0.1:0/{echo}?enableStats=true"), "-api", "127.0.0.1:0"],
        1,
    );
    let api = api_of(&g);
    let data = pattern(1 << 20, 7);
    let mut c = connect(g.addr());
    let mut w = c.try_clone().unwrap();
    let up = data.clone();
    let sender = std::thread::spawn(move || {
        w.write_all(&up).unwrap();
        w.shutdown(Shutdown::Write).unwrap();
    });
    let got = read_all(&mut c);
    sender.join().unwrap();
    assert_eq!(got, data);
    drop(c);
    // currentConns drops when the server side of the connection is done.
    let deadline = Instant::now() + Duration::from_secs(5);
    let svc = loop {
        let (code, body) = call("GET", &format!("http://{api}/config?format=json"), &[]);
        assert_eq!(code, 200, "{body}");
        let cfg = json(&body);
        let svc = cfg["services"][0].clone();
        if svc["status"]["stats"]["currentConns"] == 0 || Instant::now() > deadline {
            break svc;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let status = &svc["status"];
    let stats = &status["stats"];
    assert_eq!(stats["totalConns"], 1, "{svc}");
    assert_eq!(stats["currentConns"], 0, "{svc}");
    assert_eq!(stats["inputBytes"], 1 << 20, "{svc}");
    assert_eq!(stats["outputBytes"], 1 << 20, "{svc}");
    assert_eq!(stats["totalErrs"], 0, "{svc}");
    assert_eq!(status["state"], "ready");
    assert!(status["createTime"].as_u64().unwrap() > 1_700_000_000);
    let events: Vec<&str> =
        status["events"].as_array().unwrap().iter().map(|e| e["msg"].as_str().unwrap()).collect();
    assert_eq!(events.len(), 3, "{events:?}");
    assert_eq!(events[0], "service service-0 is running");
    assert_eq!(events[1], "service service-0 is ready");
    assert_eq!(events[2], format!("service service-0 is listening on {}", g.addr()));
    // YAML too, with the same status.
    let (code, yaml) = call("GET", &format!("http://{api}/config?format=yaml"), &[]);
    assert_eq!(code, 200);
    let cfg: Value = serde_yaml::from_str(&yaml).unwrap();
    assert_eq!(cfg["services"][0]["status"]["stats"]["totalConns"], 1, "{yaml}");
}

#[test]
fn api_life_cycle_with_curl() {
    let origin = http_server("from origin");
    // Two upstream proxies, each its own process; -D makes each log its connections.
    let p1 = Gost::start(&["-D", "-L", "http://127.0.0.1:0"], 1);
    let p2 = Gost::start(&["-D", "-L", "http://127.0.0.1:0"], 1);
    let dir = temp_dir("api");
    let cfg = dir.join("gost.yaml");
    std::fs::write(
        &cfg,
        "api:\n  addr: 127.0.0.1:0\n  accesslog: true\n  auth: {username: admin, password: s3cret}\n",
    )
    .unwrap();
    let g = Gost::spawn(&["-C", cfg.to_str().unwrap()]);
    let api = api_of(&g);
    let auth = ["-u", "admin:s3cret", "-H", "Content-Type: application/json"];
    let url = |p: &str| format!("http://{api}{p}");

    // Auth: none or wrong is 401 with gost's body; the document is open.
    let (code, body) = call("GET", &url("/config"), &[]);
    assert_eq!((code, json(&body)["code"].clone()), (401, 401.into()), "{body}");
    let (code, body) = call("GET", &url("/config/services"), &["-u", "admin:wrong"]);
    assert_eq!(code, 401, "{body}");
    assert_eq!(json(&body)["msg"], "Unauthorized");
    let (_, head) = curl(&["-i", &url("/config")]);
    assert!(head.to_ascii_lowercase().contains("www-authenticate: basic"), "{head}");
    let (code, doc) = call("GET", &url("/docs/swagger.yaml"), &[]);
    assert_eq!(code, 200);
    assert!(doc.contains("/config/services/{name}"));

    // A chain through p1, then a service that uses it.
    let chain = |node: SocketAddr| {
        format!(
            r#"{{"name":"chain-0","hops":[{{"name":"hop-0","nodes":[{{"name":"node-0","addr":"{node}","connector":{{"type":"http"}},"dialer":{{"type":"tcp"}}}}]}}]}}"#
        )
    };
    let body = chain(p1.addr());
    let (code, out) = call("POST", &url("/config/chains"), &[&auth[..], &["-d", &body]].concat());
    assert_eq!((code, out.as_str()), (200, r#"{"msg":"OK"}"#));
    let port = free_port();
    let svc = format!(
        r#"{{"name":"proxy","addr":"127.0.0.1:{port}","handler":{{"type":"http","chain":"chain-0"}},"listener":{{"type":"tcp"}}}}"#
    );
    let (code, out) = call("POST", &url("/config/services"), &[&auth[..], &["-d", &svc]].concat());
    assert_eq!(code, 200, "{out}");
    let proxy = format!("127.0.0.1:{port}");
    let via = |target: &str| curl(&["-x", &proxy, &format!("http://{target}/")]);
    assert_eq!(via(&origin.to_string()), (true, "from origin".into()));
    p1.wait_log("connection closed", WAIT);
    // The same name again is a duplicate; a body without a name is invalid; bad JSON too.
    let (code, out) = call("POST", &url("/config/services"), &[&auth[..], &["-d", &svc]].concat());
    assert_eq!((code, json(&out)["code"].clone()), (400, 40002.into()), "{out}");
    let (code, out) =
        call("POST", &url("/config/services"), &[&auth[..], &["-d", r#"{"addr":":1"}"#]].concat());
    assert_eq!((code, json(&out)["code"].clone()), (400, 40001.into()), "{out}");
    let (code, out) =
        call("POST", &url("/config/chains"), &[&auth[..], &["-d", "{\"name\": oops"]].concat());
    assert_eq!((code, json(&out)["code"].clone()), (400, 40001.into()), "{out}");
    // A service that cannot be built: 500 with 40003.
    let (code, out) = call(
        "POST",
        &url("/config/services"),
        &[&auth[..], &["-d", r#"{"name":"bad","addr":"127.0.0.1:0","handler":{"type":"nope"}}"#]]
            .concat(),
    );
    assert_eq!((code, json(&out)["code"].clone()), (500, 40003.into()), "{out}");

    // Updating the chain is seen by the running service at its next connection.
    let body = chain(p2.addr());
    let (code, out) =
        call("PUT", &url("/config/chains/chain-0"), &[&auth[..], &["-d", &body]].concat());
    assert_eq!(code, 200, "{out}");
    assert_eq!(via(&origin.to_string()), (true, "from origin".into()));
    p2.wait_log("connection closed", WAIT);
    let (_, out) = call("GET", &url("/config/chains/chain-0"), &auth);
    assert_eq!(json(&out)["data"]["hops"][0]["nodes"][0]["addr"], p2.addr().to_string());
    let (_, out) = call("GET", &url("/config/services"), &auth);
    let list = json(&out);
    assert_eq!(list["data"]["count"], 1, "{out}");
    assert_eq!(list["data"]["list"][0]["status"]["state"], "ready", "{out}");

    // Deleting the service closes its port; deleting it again is 40004.
    let (code, _) = call("DELETE", &url("/config/services/proxy"), &auth);
    assert_eq!(code, 200);
    assert!(!accepts(&proxy), "port still open");
    let (code, out) = call("DELETE", &url("/config/services/proxy"), &auth);
    assert_eq!((code, json(&out)["code"].clone()), (400, 40004.into()), "{out}");
    let (code, out) = call("GET", &url("/config/services/proxy"), &auth);
    assert_eq!((code, out.as_str()), (200, "{}"));
    // Kinds gost has and this build does not: empty lists.
    let (code, out) = call("GET", &url("/config/observers"), &auth);
    assert_eq!((code, json(&out)["data"]["count"].clone()), (200, 0.into()));
    // Route tables (gost's routers): created, read back, a bad route refused.
    let route = r#"{"name":"r1","routes":[{"dst":"10.0.0.0/8","gateway":"192.168.1.1"},{"net":"172.16.0.1","gateway":"10.9.9.9"}]}"#;
    let (code, out) = call("POST", &url("/config/routers"), &[&auth[..], &["-d", route]].concat());
    assert_eq!(code, 200, "{out}");
    let (_, out) = call("GET", &url("/config/routers/r1"), &auth);
    assert_eq!(json(&out)["data"]["routes"][1]["gateway"], "10.9.9.9", "{out}");
    let bad = r#"{"name":"r2","routes":[{"dst":"10.0.0.0/99","gateway":"1.1.1.1"}]}"#;
    let (code, out) = call("POST", &url("/config/routers"), &[&auth[..], &["-d", bad]].concat());
    assert_eq!((code, json(&out)["code"].clone()), (500, 40003.into()), "{out}");
    // The access log saw the requests.
    g.wait_log("DELETE  /config/services/proxy", WAIT);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_documented_list_route_answers() {
    // gost's -api form: credentials and options in the flag.
    let g = Gost::spawn(&["-api", "u:p@127.0.0.1:0?pathPrefix=/api&accesslog=true"]);
    let api = api_of(&g);
    let (code, doc) = call("GET", &format!("http://{api}/api/docs/swagger.yaml"), &[]);
    assert_eq!(code, 200, "{doc}");
    let doc: Value = serde_yaml::from_str(&doc).unwrap();
    assert_eq!(doc["basePath"], "/api");
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() > 20);
    for (path, item) in paths {
        if path.contains('{') || item.get("get").is_none() {
            continue;
        }
        let (code, body) = call("GET", &format!("http://{api}/api{path}"), &["-u", "u:p"]);
        assert_eq!(code, 200, "{path}: {body}");
    }
    assert_eq!(call("GET", &format!("http://{api}/api/config"), &[]).0, 401);
    // HEAD: the headers of a GET and no body, so the kept-alive connection stays in step.
    let (_, head) = curl(&["-I", &format!("http://{api}/api/docs/swagger.yaml")]);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(!head.contains("Content-Length: 0"), "{head}");
    assert_eq!(call("GET", &format!("http://{api}/config"), &["-u", "u:p"]).0, 404);
    g.wait_log("GET     /api/config", WAIT);
    // CORS preflight.
    let (_, head) = curl(&[
        "-i",
        "-X",
        "OPTIONS",
        "-H",
        "Origin: http://ui.test",
        "-H",
        "Access-Control-Request-Method: PUT",
        &format!("http://{api}/api/config/services/x"),
    ]);
    let head = head.to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 204"), "{head}");
    assert!(head.contains("access-control-allow-methods: get,post,put,delete,options"), "{head}");
    assert!(head.contains("access-control-allow-origin: *"), "{head}");
    // Garbage on the socket gets a 400, not a hang.
    let mut s = connect(api);
    s.write_all(b"\x00\x01garbage\r\n\r\n").unwrap();
    let mut out = String::new();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = s.read_to_string(&mut out);
    assert!(out.starts_with("HTTP/1.1 400"), "{out}");
}

#[test]
fn reload_and_save_through_the_api_and_sighup() {
    let a = http_server("a");
    let dir = temp_dir("reload");
    let cfg = dir.join("gost.yaml");
    let port_a = free_port();
    let service = |name: &str, port: u16| {
        format!(
            "- name: {name}\n  addr: 127.0.0.1:{port}\n  handler: {{type: http}}\n  listener: {{type: tcp}}\n"
        )
    };
    let api_port = free_port();
    let head = format!("api: {{addr: \"127.0.0.1:{api_port}\"}}\nservices:\n");
    std::fs::write(&cfg, format!("{head}{}", service("a", port_a))).unwrap();
    let g = Gost::start(&["-C", cfg.to_str().unwrap()], 1);
    let api = format!("127.0.0.1:{api_port}");
    let _ = api_of(&g);
    // An API change, then a reload of the file: gost drops unsaved API changes.
    let port_x = free_port();
    let body = format!(
        r#"{{"name":"x","addr":"127.0.0.1:{port_x}","handler":{{"type":"http"}},"listener":{{"type":"tcp"}}}}"#
    );
    assert_eq!(call("POST", &format!("http://{api}/config/services"), &["-d", &body]).0, 200);
    let port_b = free_port();
    std::fs::write(&cfg, format!("{head}{}{}", service("a", port_a), service("b", port_b)))
        .unwrap();
    let (code, out) = call("POST", &format!("http://{api}/config/reload"), &[]);
    assert_eq!(code, 200, "{out}");
    let proxied = |port: u16| curl(&["-x", &format!("127.0.0.1:{port}"), &format!("http://{a}/")]);
    assert_eq!(proxied(port_b), (true, "a".into()));
    assert_eq!(proxied(port_a), (true, "a".into()));
    assert!(!accepts(("127.0.0.1", port_x)), "x survived a reload");
    // A broken file: the reload fails with 40001 and everything keeps running.
    std::fs::write(&cfg, "services: [oops\n").unwrap();
    let (code, out) = call("POST", &format!("http://{api}/config/reload"), &[]);
    assert_eq!((code, json(&out)["code"].clone()), (400, 40001.into()), "{out}");
    assert_eq!(proxied(port_b), (true, "a".into()));
    // So does a well-formed file with a service that cannot be built: checked before anything
    // stops.
    let bad = "- name: z\n  addr: 127.0.0.1:0\n  handler: {type: nope}\n";
    std::fs::write(&cfg, format!("{head}{}{bad}", service("a", port_a))).unwrap();
    let (code, out) = call("POST", &format!("http://{api}/config/reload"), &[]);
    assert_eq!((code, json(&out)["code"].clone()), (400, 40001.into()), "{out}");
    assert!(out.contains("nope"), "{out}");
    assert_eq!(proxied(port_b), (true, "a".into()));
    // Save writes the running configuration (to the -C file by default; here to a path).
    let saved = dir.join("saved.json");
    let (code, out) = call("POST", &format!("http://{api}/config?path={}", saved.display()), &[]);
    assert_eq!(code, 200, "{out}");
    let text = std::fs::read_to_string(&saved).unwrap();
    let names: Vec<String> = json(&text)["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["a", "b"]);
    // SIGHUP reads the file again too.
    let port_c = free_port();
    std::fs::write(&cfg, format!("{head}{}", service("c", port_c))).unwrap();
    g.signal("HUP");
    g.wait_log("config reloaded", WAIT);
    assert_eq!(proxied(port_c), (true, "a".into()));
    assert!(!accepts(("127.0.0.1", port_b)), "b survived");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The sum of the samples whose line starts with `prefix` (`None` if there is none).
fn metric(text: &str, prefix: &str) -> Option<f64> {
    let values: Vec<f64> = text
        .lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
        .collect();
    (!values.is_empty()).then(|| values.iter().sum())
}

#[test]
fn metrics_counters_move_with_traffic() {
    let echo = echo_server();
    let dead = free_port();
    let g = Gost::start(
        &[
            "-L",
            &format!("tcp://127.0.0.1:0/{echo}?ignoreChain=true"),
            "-L",
            "http://127.0.0.1:0",
            "-metrics",
            "127.0.0.1:0",
            "-F",
            &format!("http://127.0.0.1:{dead}"),
        ],
        2,
    );
    let m = g.logged_addr("metrics service on ", WAIT);
    let scrape = || curl(&[&format!("http://{m}/metrics")]).1;
    let before = scrape();
    assert!(before.contains("# TYPE gost_service_requests_total counter"), "{before}");
    assert!(metric(&before, "gost_services{").is_some_and(|v| v == 2.0), "{before}");
    assert!(metric(&before, "process_resident_memory_bytes").is_some_and(|v| v > 0.0));
    // 1000 bytes each way through the forwarder (no chain), then a request through the HTTP
    // proxy, whose chain's only node is dead.
    let mut c = connect(g.addrs[0]);
    c.write_all(&[1u8; 1000]).unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_all(&mut c).len(), 1000);
    let (_, _) = curl(&["-x", &g.addrs[1].to_string(), &format!("http://{echo}/")]);
    let deadline = Instant::now() + Duration::from_secs(5);
    let after = loop {
        let text = scrape();
        let errs = metric(&text, "gost_chain_errors_total{chain=\"chain-0\"").unwrap_or(0.0);
        let done = metric(&text, "gost_service_requests_in_flight{").unwrap_or(1.0) == 0.0;
        if (errs >= 1.0 && done) || Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let in_flight_zero = after
        .lines()
        .filter(|l| l.starts_with("gost_service_requests_in_flight{"))
        .all(|l| l.ends_with(" 0"));
    assert!(in_flight_zero, "{after}");
    let requests = metric(&after, "gost_service_requests_total{client=\"127.0.0.1\"");
    assert_eq!(requests, Some(2.0), "{after}");
    let chain_errs = metric(&after, "gost_chain_errors_total{chain=\"chain-0\"");
    assert_eq!(chain_errs, Some(1.0), "{after}");
    assert!(after.contains(",node=\"node-0\"} 1"), "{after}");
    let labels = "{client=\"127.0.0.1\",host=";
    let input = metric(&after, &format!("gost_service_transfer_input_bytes_total{labels}"));
    assert!(input.is_some_and(|v| v >= 1000.0), "{after}");
    let output = metric(&after, &format!("gost_service_transfer_output_bytes_total{labels}"));
    assert!(output.is_some_and(|v| v >= 1000.0), "{after}");
    assert!(after.contains("gost_service_request_duration_seconds_count{"), "{after}");
    // Another path is 404.
    let (code, _) = call("GET", &format!("http://{m}/other"), &[]);
    assert_eq!(code, 404);
}

#[test]
fn metrics_time_the_first_node_of_a_chain() {
    let origin = http_server("from origin");
    let upstream = Gost::start(&["-L", "http://127.0.0.1:0"], 1);
    let g = Gost::start(
        &[
            "-L",
            "http://127.0.0.1:0",
            "-F",
            &format!("http://{}", upstream.addr()),
            "-metrics",
            "127.0.0.1:0",
        ],
        1,
    );
    let m = g.logged_addr("metrics service on ", WAIT);
    for _ in 0..2 {
        let got = curl(&["-x", &g.addr().to_string(), &format!("http://{origin}/")]);
        assert_eq!(got, (true, "from origin".to_owned()));
    }
    let text = curl(&[&format!("http://{m}/metrics")]).1;
    let series = "gost_chain_node_connect_duration_seconds";
    let count = metric(&text, &format!("{series}_count{{chain=\"chain-0\","));
    assert_eq!(count, Some(2.0), "{text}");
    assert!(text.contains(",node=\"node-0\",le=\"60\"} 2"), "{text}");
    assert_eq!(metric(&text, "gost_chain_errors_total{"), None, "{text}");
}

#[test]
fn json_logs_go_to_a_file() {
    let dir = temp_dir("log");
    let file = dir.join("logs/gost.log");
    let yaml = format!(
        "log: {{level: debug, format: json, output: \"{}\"}}\nservices:\n- name: s\n  addr: 127.0.0.1:0\n  handler: {{type: http}}\n  listener: {{type: tcp}}\n",
        file.display()
    );
    let cfg = dir.join("gost.yaml");
    std::fs::write(&cfg, yaml).unwrap();
    let mut g = Gost::spawn(&["-C", cfg.to_str().unwrap()]);
    let deadline = Instant::now() + WAIT;
    let line = loop {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        if let Some(l) = text.lines().find(|l| l.contains("listening on")) {
            break l.to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "no log line in {}; stderr:\n{}",
            file.display(),
            g.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let v = json(&line);
    assert_eq!(v["level"], "info");
    assert_eq!(v["service"], "s");
    assert!(v["msg"].as_str().unwrap().starts_with("listening on 127.0.0.1:"), "{line}");
    assert!(v["time"].as_str().unwrap().ends_with('Z'), "{line}");
    g.signal("TERM");
    assert_eq!(g.wait_exit(WAIT), Some(0));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A UDP server answering every datagram with `<tag>:<payload>`.
fn tagged_udp_echo(tag: &'static str) -> SocketAddr {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = s.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = s.recv_from(&mut buf) {
            let mut out = format!("{tag}:").into_bytes();
            out.extend_from_slice(&buf[..n]);
            let _ = s.send_to(&out, from);
        }
    });
    addr
}

#[test]
fn updating_a_udp_service_with_a_live_session_rebinds_its_port() {
    let (one, two) = (tagged_udp_echo("one"), tagged_udp_echo("two"));
    let port = free_udp_port();
    let dir = temp_dir("api-udp");
    let cfg = dir.join("gost.yaml");
    let service = |target: SocketAddr| {
        format!(
            r#"{{"name":"dns","addr":"127.0.0.1:{port}","handler":{{"type":"udp"}},"listener":{{"type":"udp","metadata":{{"ttl":"60s"}}}},"forwarder":{{"nodes":[{{"name":"t","addr":"{target}"}}]}}}}"#
        )
    };
    std::fs::write(&cfg, format!("api:\n  addr: 127.0.0.1:0\nservices:\n- {}\n", service(one)))
        .unwrap();
    let g = Gost::spawn(&["-C", cfg.to_str().unwrap()]);
    let api = api_of(&g);
    let via: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let client = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    client.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    let ask = |msg: &str| -> Option<String> {
        client.send_to(msg.as_bytes(), via).unwrap();
        let mut buf = [0u8; 256];
        let (n, _) = client.recv_from(&mut buf).ok()?;
        Some(String::from_utf8_lossy(&buf[..n]).into_owned())
    };
    assert_eq!(ask("a").as_deref(), Some("one:a"));
    // The session (ttl 60 s) is live; replace the service with one forwarding elsewhere.
    let (code, out) = call(
        "PUT",
        &format!("http://{api}/config/services/dns"),
        &["-H", "Content-Type: application/json", "-d", &service(two)],
    );
    assert_eq!(code, 200, "{out}");
    let (_, out) = call("GET", &format!("http://{api}/config/services/dns"), &[]);
    assert_eq!(json(&out)["data"]["status"]["state"], "ready", "{out}");
    // The same client now reaches the new target through the rebound port.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match ask("b") {
            Some(got) if got == "two:b" => break,
            got => assert!(Instant::now() < deadline, "still {got:?} after the update"),
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn api_and_metrics_as_handlers_on_tls_and_a_unix_socket() {
    let dir = temp_dir("api-handlers");
    let sock = dir.join("api.sock");
    // gost's `api` handler behind a TLS listener, the `metrics` handler with Basic auth, and
    // the global API on a Unix socket.
    let g = Gost::start(
        &[
            "-L",
            "api+tls://admin:s3cret@127.0.0.1:0?pathPrefix=/api&accessLog=true",
            "-L",
            "metrics://m:pw@127.0.0.1:0?path=/prom",
            "-api",
            &format!("unix://{}", sock.display()),
        ],
        2,
    );
    let (api, metrics) = (g.addrs[0], g.addrs[1]);
    // HTTPS with the handler's credentials, under the prefix.
    let (code, out) = call("GET", &format!("https://{api}/api/config/services"), &["-k"]);
    assert_eq!(code, 401, "{out}");
    let (code, out) =
        call("GET", &format!("https://{api}/api/config/services"), &["-k", "-u", "admin:s3cret"]);
    assert_eq!(code, 200, "{out}");
    assert_eq!(json(&out)["data"]["count"], 2, "{out}");
    // Plain HTTP to a TLS port gets no API answer.
    let (code, _) = call("GET", &format!("http://{api}/api/config"), &["-u", "admin:s3cret"]);
    assert_ne!(code, 200);
    // A body sent chunked, and one large enough for curl to ask `Expect: 100-continue` first.
    let chain = r#"{"name":"c1","hops":[]}"#;
    let args = ["-k", "-u", "admin:s3cret", "-H", "Transfer-Encoding: chunked", "-d", chain];
    let (code, out) = call("POST", &format!("https://{api}/api/config/chains"), &args);
    assert_eq!((code, out.as_str()), (200, r#"{"msg":"OK"}"#));
    let pad = "x".repeat(4096);
    let big = format!(r#"{{"name":"c2","hops":[],"metadata":{{"pad":"{pad}"}}}}"#);
    let started = Instant::now();
    let args = ["-k", "-u", "admin:s3cret", "-H", "Expect: 100-continue", "-d", &big];
    let (code, out) = call(
        "POST",
        &format!("https://{api}/api/config/chains"),
        &[&args[..], &["--expect100-timeout", "30"]].concat(),
    );
    assert_eq!((code, out.as_str()), (200, r#"{"msg":"OK"}"#));
    // Unanswered, curl would wait 30 s for the `100 Continue` before sending the body.
    assert!(started.elapsed() < Duration::from_secs(15), "{:?}", started.elapsed());
    // The Unix socket API sees the same objects.
    let unix = ["--unix-socket", sock.to_str().unwrap()];
    let (code, out) = call("GET", "http://gost/config/chains", &unix);
    assert_eq!(code, 200, "{out}");
    assert_eq!(json(&out)["data"]["count"], 2, "{out}");
    g.wait_log("POST    /api/config/chains", WAIT);
    // The metrics handler: its path, behind its auther.
    let (code, _) = call("GET", &format!("http://{metrics}/prom"), &[]);
    assert_eq!(code, 401);
    let (code, out) = call("GET", &format!("http://{metrics}/prom"), &["-u", "m:pw"]);
    assert_eq!(code, 200, "{out}");
    assert!(metric(&out, "gost_services{").is_some_and(|v| v == 2.0), "{out}");
    assert!(metric(&out, "gost_service_requests_total{").is_some_and(|v| v >= 5.0), "{out}");
    let (code, _) = call("GET", &format!("http://{metrics}/metrics"), &["-u", "m:pw"]);
    assert_eq!(code, 404);
    let mut g = g;
    g.signal("TERM");
    assert_eq!(g.wait_exit(WAIT), Some(0));
    assert!(!sock.exists(), "the socket file is removed at exit");
    let _ = std::fs::remove_dir_all(&dir);
}
