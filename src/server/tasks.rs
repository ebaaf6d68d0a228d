//! The server's background loops: rotation and publication on their
//! timers ([`maintain`]), and retention ([`prune_loop`]).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;

use super::app::AppState;
use super::writer::Job;

/// Rotation on a timer, and rebuilding the published documents.
pub(crate) async fn maintain(state: Arc<AppState>, rotate_interval: Duration) {
    let mut rotate = tokio::time::interval(rotate_interval.max(Duration::from_millis(10)));
    let mut refresh = tokio::time::interval(state.refresh_interval.max(Duration::from_millis(10)));
    rotate.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = rotate.tick() => {
                let (reply, answer) = oneshot::channel();
                if state.jobs.send(Job::Rotate(reply)).await.is_err() {
                    return;
                }
                match answer.await {
                    Ok(Ok(_)) => {} // logged and published by the writer
                    Ok(Err(e)) => tracing::error!(target: "jwt_edge::server", code = e.code(), "rotation failed: {}", e.message()),
                    Err(_) => return,
                }
            }
            _ = refresh.tick() => {
                let (reply, answer) = oneshot::channel();
                if state.jobs.send(Job::Publish(reply)).await.is_err() {
                    return;
                }
                // The writer logs failures.
                let _ = answer.await;
            }
        }
    }
}

/// Retention on a timer: bounded pruning steps (each its own short
/// transaction with its audit row, queued behind waiting issuances) until
/// nothing is left; one log line per run.
pub(crate) async fn prune_loop(state: Arc<AppState>) {
    let mut tick = tokio::time::interval(state.prune_interval.max(Duration::from_millis(10)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first run one interval after start (start-up stays quick).
    tick.tick().await;
    loop {
        tick.tick().await;
        let mut total = crate::issuer::store::Pruned::default();
        // Bounded: at most 10,000 steps per run; the rest waits for the next.
        for _ in 0..10_000 {
            let (reply, answer) = oneshot::channel();
            if state.jobs.send(Job::PruneStep(reply)).await.is_err() {
                return;
            }
            match answer.await {
                Ok(Ok(step)) if step.total() > 0 => total.add(step),
                Ok(Ok(_)) => break,
                Ok(Err(e)) => {
                    tracing::error!(target: "jwt_edge::server", code = e.code(), "pruning failed: {}", e.message());
                    break;
                }
                Err(_) => return,
            }
        }
        if total.total() > 0 {
            tracing::info!(target: "jwt_edge::server", tokens = total.tokens, audit = total.audit, revocations = total.revocations, "store pruned");
        }
    }
}
