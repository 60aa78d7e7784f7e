//! `tune --emit`: the config text with the chosen parameters filled in, the
//! user's comments and other keys kept (edited with `toml_edit`).

use toml_edit::{value, DocumentMut, Item};

use super::{Candidate, Knob};

/// `text` with formation `app`/`process_type`'s `hysteresis` and first
/// input's rule set to `chosen` (`per_dyno_key`: the input type's key for
/// load per dyno; `capacity`: load one dyno serves).
///
/// # Errors
/// When the text is not TOML or has no such formation with an input.
pub fn emit(
    text: &str,
    app: &str,
    process_type: &str,
    per_dyno_key: &str,
    chosen: &Candidate,
    capacity: f64,
) -> Result<String, String> {
    let mut doc: DocumentMut = text
        .parse()
        .map_err(|e| format!("the config is not TOML: {e}"))?;
    let formations = doc
        .get_mut("formations")
        .and_then(Item::as_array_of_tables_mut)
        .ok_or("the config has no [[formations]]")?;
    let formation = formations
        .iter_mut()
        .find(|f| {
            f.get("app").and_then(Item::as_str) == Some(app)
                && f.get("type").and_then(Item::as_str) == Some(process_type)
        })
        .ok_or_else(|| format!("no formation {app}/{process_type} in the config"))?;
    formation["hysteresis"] = value(format!("{}m", chosen.window_minutes));
    let input = formation
        .get_mut("inputs")
        .and_then(Item::as_array_of_tables_mut)
        .and_then(|inputs| inputs.get_mut(0))
        .ok_or_else(|| format!("formation {app}/{process_type} has no input"))?;
    let round = |x: f64| (x * 1000.0).round() / 1000.0;
    match chosen.knob {
        Knob::Capacity { headroom } => {
            input["rule"] = value("capacity");
            input.remove("target");
            input.remove("per");
            input.remove("tolerance");
            input[per_dyno_key] = value(round(capacity / (1.0 + headroom)));
        }
        Knob::Target { level } => {
            input["rule"] = value("target");
            input.remove(per_dyno_key);
            input["target"] = value(round(capacity * level));
            input["per"] = value("total");
        }
    }
    Ok(doc.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"# my app
[state]
kind = "memory"

[[formations]]
app = "shop-app"   # the shop
type = "web"
min = 1
max = 10
hysteresis = "15m"

[[formations.inputs]]
name = "rpm"
type = "replay"
file = "trace.csv"
rule = "capacity"
per_dyno = 38   # measured in June
"#;

    #[test]
    fn the_chosen_parameters_are_filled_in_and_comments_kept() {
        let target = Candidate {
            knob: Knob::Target { level: 0.8 },
            window_minutes: 5,
        };
        let out = emit(TEXT, "shop-app", "web", "per_dyno", &target, 40.0).expect("emits");
        assert!(out.contains("# my app"));
        assert!(out.contains("# the shop"));
        assert!(out.contains("hysteresis = \"5m\""), "{out}");
        assert!(out.contains("rule = \"target\""));
        assert!(out.contains("target = 32.0"));
        assert!(out.contains("per = \"total\""));
        assert!(!out.contains("per_dyno"));
        crate::config::parse(&out).expect("the emitted config is valid");

        let capacity = Candidate {
            knob: Knob::Capacity { headroom: 0.08 },
            window_minutes: 10,
        };
        let out = emit(TEXT, "shop-app", "web", "per_dyno", &capacity, 40.0).expect("emits");
        assert!(out.contains("per_dyno = 37.037"), "{out}");
        assert!(out.contains("hysteresis = \"10m\""));
        crate::config::parse(&out).expect("the emitted config is valid");
    }

    #[test]
    fn an_unknown_formation_is_named() {
        let c = Candidate {
            knob: Knob::Capacity { headroom: 0.0 },
            window_minutes: 1,
        };
        let err = emit(TEXT, "other", "web", "per_dyno", &c, 40.0).unwrap_err();
        assert!(err.contains("no formation other/web"), "{err}");
    }
}
