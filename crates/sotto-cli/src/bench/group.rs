//! `sotto bench group`: one group of `members` devices, all in this process over a running
//! network (`sotto localnet`), each device as a running client does it one-shot (`sync`).
//! Reports the time to make the owner's contacts and to create the group and add everyone
//! (adds one commit each, as `sotto group add` makes them), one text delivered to every
//! member (each member reading at once, p50/p99 from the send), the time a member takes to
//! apply a remove commit, the sender's sealing time, and peak memory per member device.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use sotto_client::conversation::seal::seal;
use sotto_client::{Device, Event};
use sotto_proto::group::Role;
use tokio::task::JoinSet;

use super::chat::{device, Homes};
use super::conversation::{peak_rss, text};
use super::quantile;

const GROUP: &str = "bench";
/// Texts sealed (not sent) to time the sender's encryption.
const SEALS: usize = 20;

/// Runs `step` on every member at once, handing each device back.
async fn each<F, Fut>(members: Vec<Device>, step: F) -> anyhow::Result<Vec<Device>>
where
    F: Fn(Device) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Device>> + Send + 'static,
{
    let mut tasks = JoinSet::new();
    for (n, member) in members.into_iter().enumerate() {
        let step = step(member);
        tasks.spawn(async move { (n, step.await) });
    }
    let mut back = Vec::new();
    while let Some(done) = tasks.join_next().await {
        let (n, member) = done.context("a member's task")?;
        back.push((n, member?));
    }
    back.sort_by_key(|(n, _)| *n);
    Ok(back.into_iter().map(|(_, m)| m).collect())
}

fn name(n: usize) -> String {
    format!("Member {n}")
}

pub async fn run(network: &Path, members: usize) -> anyhow::Result<()> {
    anyhow::ensure!(members >= 2, "--members must be at least 2");
    let directory = crate::network::load(network)?;
    let homes = Homes(
        std::env::temp_dir().join(format!("sotto-bench-group-{:016x}", rand::random::<u64>())),
    );
    let mut owner = device(&homes, "Owner", &directory)?;
    let mut others = Vec::with_capacity(members - 1);
    for n in 1..members {
        others.push(device(&homes, &name(n), &directory)?);
    }

    let started = Instant::now();
    for member in &mut others {
        let link = owner.invite().await?.to_string();
        member.connect(&link, Some("Owner")).await?;
    }
    owner.sync().await?;
    let contacts = started.elapsed();

    let started = Instant::now();
    owner.create_group(GROUP).await?;
    let names: Vec<String> = (1..members).map(name).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    owner.invite_to_group(GROUP, &names, Role::Member).await?;
    // Each answers; the owner commits the answers waiting together in one commit and welcomes
    // them with one Welcome; each joins from it.
    let others = each(others, |mut m| async move {
        m.sync().await?;
        Ok(m)
    })
    .await?;
    let events = owner.sync().await?;
    if let Some(trouble) = events.iter().find(|e| matches!(e, Event::Rejected { .. })) {
        anyhow::bail!("adding the members: {trouble:?}");
    }
    let mut others = each(others, |mut m| async move {
        let events = m.sync().await?;
        anyhow::ensure!(
            events
                .iter()
                .any(|e| matches!(e, Event::JoinedGroup { .. })),
            "a member did not join: {events:?}"
        );
        Ok(m)
    })
    .await?;
    let added = started.elapsed();
    let size = owner.groups()?.first().map_or(0, |g| g.members);
    anyhow::ensure!(
        size == members,
        "the group has {size} members, not {members}"
    );

    // One text, every member reading at once.
    let sent = Instant::now();
    owner.send(GROUP, "one for all", None).await?;
    let send = sent.elapsed();
    let (arrivals_in, mut arrivals) = tokio::sync::mpsc::unbounded_channel();
    others = each(others, |mut m| {
        let arrivals = arrivals_in.clone();
        async move {
            loop {
                m.sync().await?;
                let got = m
                    .store()
                    .messages(GROUP)?
                    .iter()
                    .any(|s| s.text == "one for all");
                if got {
                    let _ = arrivals.send(sent.elapsed());
                    return Ok(m);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    })
    .await?;
    drop(arrivals_in);
    let mut delivered = Vec::new();
    while let Some(latency) = arrivals.recv().await {
        delivered.push(latency);
    }
    delivered.sort();

    // A removal: the owner commits it, every other member applies it (fetching it when it is
    // a file object).
    let started = Instant::now();
    owner.remove_from_group(GROUP, &name(members - 1)).await?;
    let remove = started.elapsed();
    others.pop();
    let mut applies = Vec::new();
    for member in &mut others {
        let started = Instant::now();
        member.sync().await?;
        applies.push(started.elapsed());
    }
    applies.sort();

    // The sender's sealing alone (sealed, never sent).
    let conversation = owner
        .store()
        .conversation(GROUP)?
        .context("the group just made")?;
    let mut seals = Vec::with_capacity(SEALS);
    for n in 0..SEALS {
        let content = text(n)?;
        let started = Instant::now();
        seal(owner.store(), &conversation, content, |_| Ok(()))?;
        seals.push(started.elapsed());
    }
    seals.sort();

    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!("group of {members} members (each a device in this process):");
    println!(
        "  owner's contacts: {:.1} s; create and add everyone (the answers in one commit): {:.1} s",
        contacts.as_secs_f64(),
        added.as_secs_f64()
    );
    println!(
        "  one text: send {:.0} ms; delivered to {} members p50 {:.0} ms, p99 {:.0} ms (all reading at once)",
        ms(send),
        delivered.len(),
        ms(quantile(&delivered, 0.5)),
        ms(quantile(&delivered, 0.99))
    );
    println!(
        "  remove: committed in {:.0} ms; a member's read applying it p50 {:.0} ms, p99 {:.0} ms",
        ms(remove),
        ms(quantile(&applies, 0.5)),
        ms(quantile(&applies, 0.99))
    );
    println!(
        "  sender's sealing of one text: p50 {:.2} ms, p99 {:.2} ms",
        ms(quantile(&seals, 0.5)),
        ms(quantile(&seals, 0.99))
    );
    if let Some(peak) = peak_rss() {
        println!(
            "  peak memory {:.0} MiB for {members} devices: {:.2} MiB per member device",
            peak as f64 / (1 << 20) as f64,
            peak as f64 / (1 << 20) as f64 / members as f64
        );
    }
    Ok(())
}
