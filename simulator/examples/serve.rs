//! Runs the simulator until Ctrl-C, for poking at it with curl:
//! `cargo run -p costlake-simulator --example serve -- "servers=200,burst_429=1" 8080`

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let knobs = args.next().unwrap_or_default();
    let port = args.next().and_then(|p| p.parse().ok());
    let config = costlake_simulator::SimConfig::default()
        .with_knobs(&knobs)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let sim = costlake_simulator::Simulator::start(config, port).await?;
    println!("{} (X-Auth-Token: {})", sim.base_url(), sim.config().secret_key);
    tokio::signal::ctrl_c().await?;
    println!("{:?}", sim.stats());
    sim.shutdown().await;
    Ok(())
}
