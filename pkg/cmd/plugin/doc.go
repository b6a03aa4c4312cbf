// Package plugin is `kubectl macpool`, a kubectl plugin that answers the
// questions operators ask of the macpool.kubemacpool.io API: who holds a MAC
// (who-has), how full the pools are (usage) and which addresses of a pool are
// free (free). It only reads: no command creates, changes or deletes an
// object, so it needs no rights beyond reading leases and pools, and what a
// user sees is what RBAC and the server's namespace guard let them see.
package plugin
