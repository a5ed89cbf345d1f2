//! Which backend runs agents when `runtime.isolation` is unset: the strongest that works on
//! this machine — a microVM under KVM (its own kernel), else gVisor (a user-space kernel),
//! else a plain Docker container (the host's kernel) — with the reason, and a warning when
//! it is not the strongest. [`choose`] decides from the probes' results alone, so the
//! decision is tested without the machine; [`probe`] looks at the machine.
//!
//! Never chosen by itself: a microVM under software emulation (seconds per boot, hundreds
//! of MB per agent: for tests and machines without virtualisation, when asked for), and the
//! process backend (no isolation at all).

use crate::config::{Isolation, RuntimeSection};

use super::docker;
use super::microvm;

/// What each backend's probe found: `Ok` with a short description, or `Err` with why it
/// cannot run agents here.
#[derive(Debug, Clone)]
pub struct Probes {
    /// MicroVMs under KVM.
    pub microvm_kvm: Result<String, String>,
    /// Docker with gVisor's `runsc` registered.
    pub gvisor: Result<String, String>,
    /// A Docker engine.
    pub docker: Result<String, String>,
}

/// The backend picked, and what to tell the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    /// `None`: nothing works here.
    pub isolation: Option<Isolation>,
    /// Which, and why (or, with no backend, what is missing).
    pub why: String,
    /// Set when a stronger backend was passed over: what the agents lose, and why.
    pub warning: Option<String>,
}

/// The strongest backend the probes allow.
pub fn choose(p: &Probes) -> Choice {
    match (&p.microvm_kvm, &p.gvisor, &p.docker) {
        (Ok(vm), _, _) => Choice {
            isolation: Some(Isolation::Microvm),
            why: format!("agents run in microVMs under their own kernel ({vm})"),
            warning: None,
        },
        (Err(no_vm), Ok(gvisor), _) => Choice {
            isolation: Some(Isolation::Gvisor),
            why: format!("agents run in Docker containers under gVisor ({gvisor})"),
            warning: Some(format!(
                "microVMs under KVM are not available ({no_vm}); falling back to gVisor, whose \
                 user-space kernel still stands between agents and the host's"
            )),
        },
        (Err(no_vm), Err(no_gvisor), Ok(docker)) => Choice {
            isolation: Some(Isolation::Docker),
            why: format!("agents run in Docker containers ({docker})"),
            warning: Some(format!(
                "neither microVMs under KVM ({no_vm}) nor gVisor ({no_gvisor}) are available; \
                 falling back to plain containers, which share the host's kernel"
            )),
        },
        (Err(no_vm), Err(no_gvisor), Err(no_docker)) => Choice {
            isolation: None,
            why: format!(
                "no isolation backend works here: microVM ({no_vm}); gVisor ({no_gvisor}); \
                 Docker ({no_docker})"
            ),
            warning: None,
        },
    }
}

/// Looks at this machine: the microVM probe boots a guest under KVM (once per machine
/// boot; see [`microvm::probe`]), the others ask the Docker engine.
pub async fn probe(runtime: &RuntimeSection) -> Probes {
    let (engine, vm) = tokio::join!(docker::connect(), microvm::probe(&runtime.microvm));
    let microvm_kvm = if vm.kvm() {
        Ok(vm.summary())
    } else {
        Err(match &vm.accel {
            Ok((_, why)) => why.clone(),
            Err(e) => e.clone(),
        })
    };
    let (docker, gvisor) = match engine {
        Ok(engine) => {
            let gvisor = docker::gvisor_registered(&engine)
                .await
                .map(|()| "runsc is registered with the engine".to_owned())
                .map_err(|e| e.to_string());
            (Ok("the engine answers".to_owned()), gvisor)
        }
        Err(e) => (
            Err(format!("{e}; {}", docker::no_docker())),
            Err("no Docker engine answers".to_owned()),
        ),
    };
    Probes {
        microvm_kvm,
        gvisor,
        docker,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probes(vm: bool, gvisor: bool, docker: bool) -> Probes {
        let r = |ok: bool, what: &str| {
            if ok {
                Ok(format!("{what} ok"))
            } else {
                Err(format!("no {what}"))
            }
        };
        Probes {
            microvm_kvm: r(vm, "kvm"),
            gvisor: r(gvisor, "runsc"),
            docker: r(docker, "engine"),
        }
    }

    #[test]
    fn kvm_wins_over_everything_without_a_warning() {
        for (g, d) in [(true, true), (false, true), (false, false)] {
            let c = choose(&probes(true, g, d));
            assert_eq!(c.isolation, Some(Isolation::Microvm));
            assert!(c.why.contains("kvm ok"), "{c:?}");
            assert_eq!(c.warning, None);
        }
    }

    #[test]
    fn without_kvm_gvisor_is_chosen_and_the_fallback_is_said() {
        // This machine kind: a nested /dev/kvm that boots no guest, runsc registered.
        let c = choose(&probes(false, true, true));
        assert_eq!(c.isolation, Some(Isolation::Gvisor));
        let warning = c.warning.unwrap();
        assert!(
            warning.contains("no kvm") && warning.contains("gVisor"),
            "{warning}"
        );
    }

    #[test]
    fn plain_docker_is_the_last_resort_and_says_what_is_missing() {
        let c = choose(&probes(false, false, true));
        assert_eq!(c.isolation, Some(Isolation::Docker));
        let warning = c.warning.unwrap();
        assert!(
            warning.contains("no kvm") && warning.contains("no runsc"),
            "{warning}"
        );
    }

    #[test]
    fn with_nothing_there_is_no_choice_and_every_reason_is_given() {
        let c = choose(&probes(false, false, false));
        assert_eq!(c.isolation, None);
        for reason in ["no kvm", "no runsc", "no engine"] {
            assert!(c.why.contains(reason), "{}", c.why);
        }
    }

    #[test]
    fn gvisor_needs_no_kvm_but_is_never_chosen_over_it() {
        // gVisor registered without a working engine cannot happen, but the order holds.
        assert_eq!(
            choose(&probes(false, true, false)).isolation,
            Some(Isolation::Gvisor)
        );
        assert_eq!(
            choose(&probes(true, true, true)).isolation,
            Some(Isolation::Microvm)
        );
    }
}
