//! Example Keyhaven extension: a scheduled job. Each run increments `report:runs` in the
//! tenant's key-value store and writes `report:last` = `{"run_id", "scheduled_at", "runs"}`;
//! if config `report_url` is set, it also POSTs that report there (a failure fails the run,
//! which the run's record shows).

use keyhaven_sdk::{ScheduledJob, ScheduledRun, config, http, json, kv};

struct NightlyReport;

impl ScheduledJob for NightlyReport {
    fn run(run: ScheduledRun) -> Result<(), String> {
        let runs = kv::get("report:runs").map_err(|e| e.to_string())?.and_then(|v| v.as_u64()).unwrap_or(0) + 1;
        kv::set("report:runs", &json!(runs)).map_err(|e| e.to_string())?;
        let report = json!({"run_id": run.run_id, "scheduled_at": run.scheduled_at, "runs": runs});
        kv::set("report:last", &report).map_err(|e| e.to_string())?;
        if let Some(url) = config::get("report_url") {
            let response = http::Request::post(url).json(&report).send().map_err(|e| e.to_string())?;
            if !response.is_success() {
                return Err(format!("the report receiver answered {}", response.status));
            }
        }
        Ok(())
    }
}

keyhaven_sdk::export_scheduled!(NightlyReport);

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use keyhaven_sdk::testing;

    #[test]
    fn counts_runs_and_keeps_the_last_report() {
        testing::reset();
        NightlyReport::run(ScheduledRun::new("0 0 3 * * *")).unwrap();
        NightlyReport::run(ScheduledRun::new("0 0 3 * * *")).unwrap();
        let store = testing::kv();
        assert_eq!(store[1], ("report:runs".to_owned(), json!(2)));
        assert_eq!(store[0].1["runs"], 2);
        assert!(testing::http_requests().is_empty());
    }

    #[test]
    fn posts_the_report_when_asked_and_fails_the_run_if_that_fails() {
        testing::reset();
        testing::set_config("report_url", "https://reports.example.com/in");
        testing::on_http(|_| Ok(http::Response { status: 500, headers: vec![], body: Vec::new() }));
        assert!(NightlyReport::run(ScheduledRun::new("@daily")).is_err());
        assert_eq!(testing::http_requests().len(), 1);
    }
}
