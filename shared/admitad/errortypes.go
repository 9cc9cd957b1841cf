package admitad

import "github.com/token-refresher/token-refresher/shared/lambdafn"

// ErrorRules name the errorType of Admitad's own failures (see
// lambdafn.ErrorType): never connected, and connect again.
var ErrorRules = []lambdafn.ErrorRule{
	{Err: ErrNotConnected, Type: lambdafn.ErrorTypeNotConnected},
	{Err: ErrReconnect, Type: lambdafn.ErrorTypeReconnectRequired},
}
