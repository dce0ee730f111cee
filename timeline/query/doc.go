// Package query is jejak's search language: a subset of KQL, the Kibana
// Query Language, compiled for both timeline stores so that the same query
// text gives the same events in the embedded SQLite case store and in
// Elasticsearch.
//
// Parse turns query text into an Expr (syntax only, following Kibana's
// grammar, errors with the column); Compile checks it against jejak's
// fields and resolves every value into a Filter; Filter.SQL and Filter.DSL
// render it for each store.
//
// # Semantics
//
// They are those Kibana gives the same query on an index made from jejak's
// template (timeline/store/elastic/template.json), by field type:
//
//   - keyword (event.action, user.name, winlog.event_id, ...): field:value
//     is an exact, case-sensitive match of the whole value; quoted or not
//     makes no difference. field:adm* is a case-sensitive wildcard over the
//     whole value ('*' only; '?' is literal). Ranges compare strings byte by
//     byte (winlog.event_id is a keyword, so winlog.event_id >= 4700 is a
//     string comparison, as in Kibana). Arrays (event.category, jejak.tags,
//     related.user) match when any element does.
//   - text (message, user_agent.original.text): values are split into words
//     and lowercased as Elasticsearch's standard analyzer does (Tokens).
//     Unquoted, any of the words matches (a match query); quoted, the words
//     must follow each other (match_phrase). A wildcard applies to single
//     words, lowercased: message:fail* finds "Failed". message.keyword is
//     the whole message as a keyword (messages over 1,024 characters are
//     not indexed there and never match it).
//   - long (process.pid, http.response.status_code, ...): numeric equality
//     and ranges; a fractional value never equals a long, and bounds round
//     as Elasticsearch rounds them.
//   - ip (source.ip, destination.ip, related.ip): an address or a CIDR
//     block (10.0.0.0/8); ranges compare addresses as 16 bytes, IPv4 mapped
//     into IPv6 as Elasticsearch does. Wildcards are an error.
//   - date_nanos (@timestamp): "2024-02-14" means the whole day,
//     "2024-02-14T19:00" the whole minute; gt and lte round up, gte and lt
//     down. A date without an offset is read in Options.Zone (the case
//     zone; Kibana uses the browser's). Events before 1970 or after 2262
//     cannot be held by date_nanos: no @timestamp condition matches them.
//   - boolean: true or false.
//   - flattened (winlog.event_data, jejak.data, log.syslog.structured_data):
//     winlog.event_data.TargetUserName:x is a keyword match on that key;
//     winlog.event_data:x matches any key. Values over 8,191 characters are
//     not indexed and never match.
//
// field:* is "the field exists" (for ip and long fields: holds a valid
// value). Free text without a field searches message; a lone * matches
// everything, as does the empty query. Unknown fields are an error naming
// the nearest known field (Kibana would silently match nothing).
//
// The SQLite side calls three SQL functions, kql_text, kql_wild and kql_ip
// (SQLFuncs), which the store registers with its driver. They get the
// value as a BLOB, so that they see all of it: a NUL inside a value ends
// it for SQLite's own string functions (GLOB, LIKE) and for the driver's
// TEXT arguments, not for Elasticsearch.
package query
