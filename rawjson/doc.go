// Package rawjson reads JSON without decoding it: it checks a document as
// encoding/json's Valid does, walks the members of objects and the elements
// of arrays, and reads strings and numbers out of raw values. Readers keep a
// payload byte for byte and look at the few fields they need; nothing is
// copied unless an escape has to be decoded.
//
// Two kinds of reading. A Scanner checks JSON as it goes, and lets its
// caller look inside the objects it cares about on the way (Object) while
// everything else is checked whole (Value): one pass over a hook body both
// validates it and finds its parts. The functions that walk or look up
// (EachMember, EachElement, Lookup, SkipValue) trust their input to be
// valid JSON already, as a payload is once it has been accepted, and are
// cheaper for it.
//
// rawjson is a leaf: it imports only the standard library. Package rules
// reads message fields with it, package hook/stream scans hook bodies with
// it, and package moderation reads the odd field of a payload.
package rawjson
