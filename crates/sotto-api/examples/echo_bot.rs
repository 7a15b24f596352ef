//! A bot on the sotto API: answers every message with its echo.
//!
//! Run a client with the API (`sotto serve --home ./bot --network ./net/network.toml`), then:
//! `cargo run -p sotto-api --example echo_bot -- ./bot` (the home holds the API token).
//! Connect to the bot with a link from `sotto invite --home ./bot` and send it something.

use sotto_api::{ApiClient, Event, DEFAULT_ADDRESS, TOKEN_FILE};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let home = std::env::args()
        .nth(1)
        .ok_or("usage: echo_bot <home directory of the running `sotto serve`> [address]")?;
    let address = std::env::args()
        .nth(2)
        .unwrap_or_else(|| DEFAULT_ADDRESS.to_string());
    let token = std::fs::read_to_string(std::path::Path::new(&home).join(TOKEN_FILE))?;
    let api = ApiClient::connect(&address, &token).await?;
    println!("echo bot: listening on {address}");
    while let Some(event) = api.next_event().await {
        if let Event::Message(message) = event {
            println!("{}: {}", message.from, message.text);
            let echo = format!("echo: {}", message.text);
            api.send(&message.from, &echo, Some(&message.id)).await?;
        }
    }
    Ok(())
}
