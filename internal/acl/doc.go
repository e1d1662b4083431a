// Package acl decides requests by ACL bindings, with the semantics of
// Kafka's StandardAuthorizer (StandardAuthorizerData), and matches the
// binding filters of DescribeAcls and DeleteAcls.
//
// The bindings live in the metadata log (metadata.CreateACLsRecord,
// metadata.DeleteACLsRecord), so every broker decides from its own image
// of them, without I/O. A decision for a principal, host, operation and
// resource:
//
//  1. A super user (super.users) is allowed everything.
//  2. The bindings that apply are those whose resource type is the
//     resource's and whose pattern covers its name: a LITERAL pattern
//     naming it, the LITERAL wildcard "*", or a PREFIXED pattern the name
//     starts with.
//  3. None applies: allow.everyone.if.no.acl.found decides (false: denied).
//  4. Of those, a binding matches the request when its principal is the
//     request's or User:*, and its host is the client's or "*".
//  5. A matching DENY for the operation, or for ALL, denies.
//  6. Else a matching ALLOW for the operation, for ALL, or for an
//     operation that implies it allows: READ, WRITE, DELETE and ALTER
//     imply DESCRIBE; ALTER_CONFIGS implies DESCRIBE_CONFIGS.
//  7. Else denied.
//
// Hosts: the handler's Authorize hook does not carry the client's
// address yet, so a decision made without one (Action.Host "") treats a
// binding for a specific host conservatively: such an ALLOW never
// matches, such a DENY always does. Bindings for host "*", which are
// what kafka-acls writes unless told --allow-host/--deny-host, are exact.
package acl
