//! How long a change made on one host takes to reach another host sharing
//! its PostgreSQL database: an install removed and added back, disabled
//! and enabled, and a token revoked. Each change is made on one host and the
//! next host is asked in a tight loop until it answers the new way; the
//! time from the change's reply to that first new answer is the staleness
//! (one loopback request of it is the asking itself).
//!
//! Not a standalone benchmark: `scripts/load-hosts` starts the hosts (with
//! `--demo` on the first) and runs this beside its load, with
//!   MERCATO_HOSTS=http://127.0.0.1:18181,http://127.0.0.1:18182
//!   MERCATO_TOKENS=<data-dir>/demo-tokens.json  MERCATO_ROUNDS=10

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

/// Give up on a change that has not arrived after this long.
const PATIENCE: Duration = Duration::from_secs(10);

struct Client {
    agent: ureq::Agent,
}

impl Client {
    fn new() -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        Client { agent }
    }

    /// `method url` with `token` and an optional JSON body: (status, body).
    fn send(
        &self,
        method: &str,
        url: &str,
        token: &str,
        body: Option<Value>,
    ) -> Result<(u16, Value)> {
        let auth = format!("Bearer {token}");
        let mut response = match (method, body) {
            ("GET", _) => self.agent.get(url).header("authorization", &auth).call(),
            ("DELETE", _) => self.agent.delete(url).header("authorization", &auth).call(),
            ("POST", body) => self
                .agent
                .post(url)
                .header("authorization", &auth)
                .header("content-type", "application/json")
                .send(body.unwrap_or(json!({})).to_string()),
            ("PATCH", body) => self
                .agent
                .patch(url)
                .header("authorization", &auth)
                .header("content-type", "application/json")
                .send(body.unwrap_or(json!({})).to_string()),
            _ => bail!("unsupported method {method}"),
        }
        .with_context(|| format!("{method} {url}"))?;
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    /// Make a change (expecting a 2xx), then ask until `seen` holds for the
    /// answer of `probe`; the time from the change's reply to that answer.
    fn staleness(
        &self,
        change: impl Fn() -> Result<(u16, Value)>,
        probe: impl Fn() -> Result<(u16, Value)>,
        seen: impl Fn(u16) -> bool,
    ) -> Result<Duration> {
        let (status, body) = change()?;
        if !(200..300).contains(&status) {
            bail!("the change was refused: {status} {body}");
        }
        let changed = Instant::now();
        loop {
            let (status, _) = probe()?;
            if seen(status) {
                return Ok(changed.elapsed());
            }
            if changed.elapsed() > PATIENCE {
                bail!("the change did not arrive within {PATIENCE:?} (still {status})");
            }
        }
    }
}

fn main() -> Result<()> {
    let Ok(hosts) = std::env::var("MERCATO_HOSTS") else {
        // Run as part of `cargo bench`: nothing to measure without hosts.
        println!("staleness: no hosts (MERCATO_HOSTS unset); run scripts/load-hosts");
        return Ok(());
    };
    let hosts: Vec<String> = hosts.split(',').map(str::to_owned).collect();
    if hosts.len() < 2 {
        bail!(
            "MERCATO_HOSTS names {} host(s); staleness needs two or more",
            hosts.len()
        );
    }
    let tokens: Value = serde_json::from_str(
        &std::fs::read_to_string(std::env::var("MERCATO_TOKENS").context("MERCATO_TOKENS")?)
            .context("reading the demo tokens")?,
    )?;
    let rounds: usize = std::env::var("MERCATO_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(10);
    let token = |role: &str| tokens[role].as_str().unwrap_or_default().to_owned();
    let (director, rep, operator) = (token("director"), token("rep"), token("operator"));
    let client = Client::new();

    let install_url = |host: &str| format!("{host}/v1/tenants/demo/installs/trial-feedback");
    let call_url =
        |host: &str| format!("{host}/v1/tenants/demo/components/trial-feedback/describe");
    let (_, install) = client.send("GET", &install_url(&hosts[0]), &director, None)?;
    let package = install["package"]
        .as_str()
        .context("the demo tenant has no trial-feedback install")?
        .to_owned();
    let (_, me) = client.send("GET", &format!("{}/v1/me", hosts[0]), &rep, None)?;
    let rep_name = me["name"]
        .as_str()
        .context("GET /v1/me names the account")?
        .to_owned();

    let mut kinds: Vec<(&str, Vec<Duration>)> =
        ["remove", "install", "disable", "enable", "token revoked"]
            .into_iter()
            .map(|k| (k, Vec::new()))
            .collect();
    for round in 0..rounds {
        let a = &hosts[round % hosts.len()];
        let b = &hosts[(round + 1) % hosts.len()];
        let call = || client.send("POST", &call_url(b), &rep, None);
        // Warm the other host's caches so that it has something to be stale about.
        call()?;
        kinds[0].1.push(client.staleness(
            || client.send("DELETE", &install_url(a), &director, None),
            call,
            |s| s == 404,
        )?);
        kinds[1].1.push(client.staleness(
            || {
                client.send(
                    "POST",
                    &format!("{a}/v1/tenants/demo/installs"),
                    &director,
                    Some(json!({"package": package})),
                )
            },
            call,
            |s| s == 200,
        )?);
        kinds[2].1.push(client.staleness(
            || {
                client.send(
                    "PATCH",
                    &install_url(a),
                    &director,
                    Some(json!({"enabled": false})),
                )
            },
            call,
            |s| s != 200,
        )?);
        kinds[3].1.push(client.staleness(
            || {
                client.send(
                    "PATCH",
                    &install_url(a),
                    &director,
                    Some(json!({"enabled": true})),
                )
            },
            call,
            |s| s == 200,
        )?);
        let (_, issued) = client.send(
            "POST",
            &format!("{a}/v1/accounts/{rep_name}/tokens"),
            &operator,
            Some(json!({"label": format!("staleness {round}")})),
        )?;
        let (id, secret) = (
            issued["id"].as_str().context("issued token id")?.to_owned(),
            issued["token"].as_str().context("issued token")?.to_owned(),
        );
        let me = || client.send("GET", &format!("{b}/v1/me"), &secret, None);
        if me()?.0 != 200 {
            bail!("a new token is not accepted by the other host");
        }
        kinds[4].1.push(client.staleness(
            || client.send("DELETE", &format!("{a}/v1/tokens/{id}"), &operator, None),
            me,
            |s| s == 401,
        )?);
    }

    println!(
        "cross-host staleness over {} hosts, {rounds} rounds (change on one host, seen on the next)",
        hosts.len()
    );
    println!("| change | p50 ms | max ms |");
    println!("|---|---|---|");
    for (kind, mut times) in kinds {
        times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "| {kind} | {:.1} | {:.1} |",
            ms(times[times.len() / 2]),
            ms(times[times.len() - 1])
        );
    }
    Ok(())
}
