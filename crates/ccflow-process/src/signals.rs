//! Shutdown signals: SIGINT (Ctrl-C) and SIGTERM (`docker stop`, `kill`, an orchestrator) both
//! stop a binary gracefully.

/// Signal handlers, registered when this is built: a script (or a container runtime) that sends
/// SIGTERM right after the `listening on` line must get a graceful stop, not the default action.
#[derive(Debug)]
pub struct ShutdownSignals {
    #[cfg(unix)]
    unix: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl ShutdownSignals {
    /// Registers the handlers now (inside a Tokio runtime).
    pub fn register() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let unix = match (
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
            ) {
                (Ok(interrupt), Ok(terminate)) => Some((interrupt, terminate)),
                _ => None,
            };
            Self { unix }
        }
        #[cfg(not(unix))]
        {
            Self {}
        }
    }

    /// Completes on the first SIGINT or SIGTERM.
    pub async fn wait(self) {
        #[cfg(unix)]
        if let Some((mut interrupt, mut terminate)) = self.unix {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}
