package message

// ParseWindow is Parse with a read window of w bytes (tests use tiny
// windows so that every scan crosses window edges).
var ParseWindow = parse
