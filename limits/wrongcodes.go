package limits

import "time"

// WrongCodeRecord is one address's record of wrong room codes: an allowance of
// WrongCodes that comes back at WrongCodesPerHour, and a pause of at least Lockout
// once it is spent. It is plain data, so a cluster can keep it where
// every node sees it; Config says how it changes.
type WrongCodeRecord struct {
	Left   float64   `json:"left"`   // wrong codes still allowed
	At     time.Time `json:"at"`     // when Left was brought up to date; zero: never struck
	Paused time.Time `json:"paused"` // joining is paused until then
}

// refill brings s up to now.
func (c Config) refill(s WrongCodeRecord, now time.Time) WrongCodeRecord {
	if s.At.IsZero() {
		return WrongCodeRecord{Left: float64(c.WrongCodes), At: now, Paused: s.Paused}
	}
	if now.After(s.At) {
		s.Left = min(float64(c.WrongCodes), s.Left+now.Sub(s.At).Hours()*c.WrongCodesPerHour)
		s.At = now
	}
	return s
}

// Wrong counts one wrong code. paused says it spent the allowance.
func (c Config) Wrong(s WrongCodeRecord, now time.Time) (_ WrongCodeRecord, paused bool) {
	if c.WrongCodes <= 0 {
		return s, false
	}
	s = c.refill(s, now)
	s.Left = max(s.Left-1, 0)
	if s.Left < 1 {
		s.Paused = now.Add(c.Lockout)
		return s, true
	}
	return s, false
}

// Wait is how long joining stays paused: the lockout, and after it until
// the allowance has a wrong code to spend again.
func (c Config) Wait(s WrongCodeRecord, now time.Time) time.Duration {
	if c.WrongCodes <= 0 {
		return 0
	}
	wait := s.Paused.Sub(now)
	if s = c.refill(s, now); s.Left < 1 && c.WrongCodesPerHour > 0 {
		wait = max(wait, time.Duration((1-s.Left)/c.WrongCodesPerHour*float64(time.Hour)))
	}
	return max(wait, 0)
}

// forgotten reports whether s says nothing any more: no pause, the whole
// allowance back. Such a record can be dropped.
func (c Config) forgotten(s WrongCodeRecord, now time.Time) bool {
	return !now.Before(s.Paused) && c.refill(s, now).Left >= float64(c.WrongCodes)
}
