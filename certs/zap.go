package certs

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// zapToSlog gives certmagic (which logs through zap) hush's log: its
// warnings and errors only, under "acme: ". Its "will retry" goes to
// retry instead, which says it in one line with the time of the next
// try; the lines that only repeat a failure are left out.
func zapToSlog(log *slog.Logger, retry func(err error, in time.Duration)) *zap.Logger {
	return zap.New(&slogCore{log: log, retry: retry})
}

type slogCore struct {
	log    *slog.Logger
	retry  func(error, time.Duration)
	fields []zapcore.Field
}

// repeats are certmagic's lines that say again what retry or the
// events already said.
var repeats = []string{"could not get certificate from issuer", "job failed", "will retry", "challenge failed", "validating authorization", "HTTP request failed; retrying"}

func (c *slogCore) Enabled(l zapcore.Level) bool { return l >= zapcore.WarnLevel }

func (c *slogCore) With(fs []zapcore.Field) zapcore.Core {
	return &slogCore{log: c.log, retry: c.retry, fields: append(slices.Clip(c.fields), fs...)}
}

func (c *slogCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *slogCore) Write(e zapcore.Entry, fs []zapcore.Field) error {
	all := append(slices.Clip(c.fields), fs...)
	if e.Message == "will retry" {
		var err error
		var in time.Duration
		for _, f := range all {
			switch {
			case f.Key == "error" && f.Type == zapcore.ErrorType:
				err, _ = f.Interface.(error)
			case f.Key == "retrying_in" && f.Type == zapcore.DurationType:
				in = time.Duration(f.Integer)
			}
		}
		if err == nil {
			err = errors.New("unknown error")
		}
		c.retry(err, in)
		return nil
	}
	if slices.Contains(repeats, e.Message) {
		return nil
	}
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range all {
		f.AddTo(enc)
	}
	attrs := make([]any, 0, 2*len(enc.Fields))
	for _, k := range slices.Sorted(maps.Keys(enc.Fields)) {
		attrs = append(attrs, k, enc.Fields[k])
	}
	level := slog.LevelWarn
	if e.Level >= zapcore.ErrorLevel {
		level = slog.LevelError
	}
	c.log.Log(context.Background(), level, "acme: "+e.Message, attrs...)
	return nil
}

func (c *slogCore) Sync() error { return nil }
