// Package certificate manages the serving certificate of kubemacpool-apiserver
// and the CA that clients trust it with, so that an install needs no
// cert-manager and no manual caBundle step.
//
// The CA and the serving certificate live in one Secret (kubemacpool-service)
// that every replica reads and may renew: writes carry the resourceVersion
// they were computed from, so replicas that race agree on one result. The CA
// bundle in that Secret is copied into the caBundle of the APIService and of
// every webhook of kubemacpool-mutator, and restored whenever someone blanks
// it.
//
// Rotations never break a client. A new CA is published next to the old one
// first; the serving certificate moves to it only after trustPropagationDelay,
// once kube-apiserver has had time to pick up the new caBundle; the old CA
// leaves the bundle when it expires. A serving certificate is renewed one
// overlap before it expires, so a replica that sees the new one late still
// serves a valid one.
package certificate
