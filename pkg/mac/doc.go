// Package mac holds 48-bit MAC addresses as integers so that pools can do
// arithmetic on them (ranges up to 2^48 wide, carry across octets) and
// renders them in the two textual forms the API uses: the colon form
// (02:00:00:00:00:0a) for spec fields and the dash form (02-00-00-00-00-0a)
// for object names, which may not contain colons.
package mac
