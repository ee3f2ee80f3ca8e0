//! The scheduled hook: one run for one due time of a binding's cron schedule.

use wasmtime::Store;
use wasmtime::component::Instance;

use super::bindings::{scheduled as wit, types};
use super::invoke::{HookCall, Invocation, InvokeError, Outcome, Target, reported, reported_outcome};
use super::{Compiled, ExtensionRuntime, Hook, HostState, Limits};

struct Call {
    input: wit::ScheduledRun,
}

impl HookCall for Call {
    type Raw = Result<(), String>;
    type Output = Result<(), String>;
    const HOOK: Hook = Hook::Scheduled;

    fn input_bytes(&self) -> usize {
        self.input.run_id.len() + self.input.schedule.len()
    }

    async fn call(
        &self,
        store: &mut Store<HostState>,
        instance: &Instance,
        compiled: &Compiled,
    ) -> wasmtime::Result<Self::Raw> {
        let indices = compiled.scheduled.as_ref().ok_or_else(|| wasmtime::format_err!("not exported"))?;
        indices.load(&mut *store, instance)?.call_run(store, &self.input).await
    }

    fn check(&self, raw: Self::Raw, _: &Limits) -> Result<Self::Output, InvokeError> {
        reported(raw)
    }

    fn outcome(output: &Self::Output) -> (Outcome, Option<String>) {
        reported_outcome(output)
    }
}

impl ExtensionRuntime {
    /// Runs `target`'s scheduled hook for the due time `scheduled_at`.
    pub async fn run_scheduled(
        &self,
        target: &Target,
        run_id: &str,
        schedule: &str,
        scheduled_at: i64,
    ) -> Invocation<Result<(), String>> {
        let context = &target.context;
        let input = wit::ScheduledRun {
            tenant: types::Tenant { id: context.tenant_id.clone(), name: context.tenant_name.clone() },
            run_id: run_id.to_owned(),
            schedule: schedule.to_owned(),
            scheduled_at: u64::try_from(scheduled_at).unwrap_or(0),
        };
        self.invoke(target, &Call { input }).await
    }
}
