// Package hunt looks for traces of unauthorized access in a case timeline:
// who got in after the tabulation closed, how, and what they touched.
//
// Two kinds of rules produce findings. Single-event rules are Sigma
// detections (SigmaHQ files an examiner points at, and jejak's own rules,
// embedded as readable YAML) evaluated by github.com/bradleyjkemp/sigma-go
// over ECS events mapped to Sigma's Windows and Linux field names. What one
// event cannot say (sequences, baselines, gaps, comparisons of one file's
// times) is said by Go analyzers, each named by a built-in rule.
//
// Hunt reads the timeline once, in time order, up to Config.Before; the
// events before Config.After are the baseline (sources and accounts already
// known, record sequences), and findings are about what happened from
// After on. Findings, their IDs and their order are deterministic: the same
// case hunted with the same parameters yields the same report.
package hunt
