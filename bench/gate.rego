# The standard gate's arithmetic in Rego: the peer preflight is compared with.
package preflight.gate

import rego.v1

modes := {
	"A": {"weights": {"readiness": 0.4, "mvp": 0.6, "security": 0.1}, "go": 60, "canary": 75},
	"B": {"weights": {"readiness": 0.5, "mvp": 0.5, "security": 0.2}, "go": 50, "canary": 65},
	"S": {"weights": {"readiness": 0.5, "mvp": 0.3, "security": 0.4}, "go": 40, "canary": 55},
}

penalties := {"low": 0, "medium": 5, "high": 10}

mode := object.get(input.settings, "mode", "B")

w := modes[mode].weights

security := 10 if input.facts.security.gate == "PASS"

else := 0

weighted := ((w.readiness * input.facts.scores.readiness) + (w.mvp * input.facts.scores.mvp) + (w.security * security)) / ((w.readiness + w.mvp) + w.security)

risk_score := round(((100 - (10 * weighted)) + penalties[input.facts.complexity]) * 100) / 100

blocking_issues contains {"id": "security.gate_failed", "message": "security gate is FAIL"} if input.facts.security.gate == "FAIL"

blocking_issues contains {"id": "risk.above_canary", "message": sprintf("risk score %v is at or above the canary threshold %v", [risk_score, modes[mode].canary])} if risk_score >= modes[mode].canary

band := "GO" if risk_score < modes[mode].go

else := "GO_WITH_CAUTION" if risk_score < modes[mode].canary

else := "NO_GO"

decision := "NO_GO" if count(blocking_issues) > 0

else := band

result := {
	"decision": decision,
	"blocking_issues": blocking_issues,
	"warnings": [],
	"details": {"mode": mode, "risk_score": risk_score, "penalty": penalties[input.facts.complexity]},
}
