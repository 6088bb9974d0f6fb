package httpsession_test

import (
	"bytes"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/typedstore/typedstore"
	"github.com/typedstore/typedstore/httpsession"
)

// With EncryptionKeys and IDHashKey, a whole flow of the middleware
// (an anonymous session, a login that regenerates the id, a renewal of the
// id and a request with the old one, a second device, a logout) leaves no
// session id in any Redis key, value or index entry, and no session data
// in clear.
func TestSessionsAtRestLeaveNoIDInRedis(t *testing.T) {
	e := newLifeEnv(t, httpsession.Options{RenewAfter: 15 * time.Minute, IdleTimeout: time.Hour}, typedstore.Options[lsess]{
		EncryptionKeys: [][]byte{bytes.Repeat([]byte{1}, 32)},
		IDHashKey:      bytes.Repeat([]byte{2}, 32),
		Owner: func(v lsess) string {
			if v.UserID == 0 {
				return ""
			}
			return strconv.FormatInt(v.UserID, 10)
		},
	})
	var ids []string
	seen := func(b *browser) string {
		t.Helper()
		id := b.id()
		if id == "" {
			t.Fatal("no session cookie")
		}
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
		return id
	}
	phone := e.browser()
	if res := phone.get("/incr"); !strings.Contains(res.body, "counter=1") {
		t.Fatalf("/incr = %q", res.body)
	}
	anonymous := seen(phone)
	phone.get("/login")
	old := seen(phone)
	if old == anonymous {
		t.Fatal("login kept the anonymous id")
	}
	phone.get("/incr")
	e.advance(16 * time.Minute)
	phone.get("/get")
	renewed := seen(phone)
	if renewed == old {
		t.Fatal("the id was not renewed")
	}
	tab := e.browser()
	tab.cookies[httpsession.DefaultName] = jarCookie{c: signedCookie(old, secret)}
	if res := tab.get("/incr"); !strings.Contains(res.body, "user=42 counter=3") || tab.id() != renewed {
		t.Fatalf("the old id within the grace period = %q, renewed id %v; want the renewed session", res.body, tab.id() == renewed)
	}
	laptop := e.browser()
	laptop.get("/login")
	seen(laptop)
	forwards, indexes, sessions := 0, 0, 0
	for _, k := range e.mr.Keys() {
		var values []string
		switch typ := e.mr.Type(k); typ {
		case "string":
			v, _ := e.mr.Get(k)
			values = []string{v}
		case "zset":
			values, _ = e.mr.ZMembers(k)
			indexes++
		default:
			t.Errorf("key %q holds a %s", k, typ)
		}
		switch {
		case strings.HasPrefix(k, "renewed:"):
			forwards++
		case strings.HasPrefix(k, typedstore.DefaultPrefix):
			sessions++
		}
		for _, id := range ids {
			if strings.Contains(k, id) {
				t.Errorf("key %q holds a session id", k)
			}
			for _, v := range values {
				if strings.Contains(v, id) {
					t.Errorf("the value of %q holds a session id", k)
				}
			}
		}
		for _, v := range values {
			if strings.Contains(v, "counter") || strings.Contains(v, "lifetime") {
				t.Errorf("the value of %q holds session data in clear: %q", k, v)
			}
		}
	}
	if forwards != 1 || indexes != 1 || sessions != 2 {
		t.Errorf("found %d renewed ids, %d owner indexes and %d sessions; want 1, 1 and 2", forwards, indexes, sessions)
	}
	phone.get("/logout")
	if v, err := e.store.Get(t.Context(), renewed); err == nil {
		t.Errorf("the phone's session outlived its logout: %+v", v)
	}
	if n, err := e.store.CountOwned(t.Context(), "42"); err != nil || n != 1 {
		t.Errorf("user 42 has %d sessions, %v; want the laptop's", n, err)
	}
}

// Under EncryptionKeys, a renewed id's forward is sealed and bound to its
// key: whoever can write to Redis cannot send an old cookie to a session
// of their choosing.
func TestPlantedForwardIsIgnored(t *testing.T) {
	e := newLifeEnv(t, httpsession.Options{RenewAfter: 15 * time.Minute, IdleTimeout: time.Hour}, typedstore.Options[lsess]{
		EncryptionKeys: [][]byte{bytes.Repeat([]byte{1}, 32)},
	})
	attacker, victim := e.browser(), e.browser()
	attacker.get("/login")
	attackerID := attacker.id()
	victim.get("/incr")
	victimID := victim.id()
	e.mr.Del(typedstore.DefaultPrefix + victimID)
	e.mr.Set(forwardKey(victimID), attackerID)
	if res := victim.get("/get"); strings.Contains(res.body, "user=42") || victim.id() == attackerID {
		t.Errorf("the victim's old cookie led to %q, cookie of the attacker's id %v; want a new session", res.body, victim.id() == attackerID)
	}

	// A forward that the store wrote still leads to the renewed session;
	// one that does not open, planted before a renewal, does not stop it.
	laptop := e.browser()
	laptop.get("/login")
	planted := laptop.id()
	e.mr.Set(forwardKey(planted), "planted")
	e.advance(16 * time.Minute)
	if res := laptop.get("/get"); !strings.Contains(res.body, "user=42") || laptop.id() == planted {
		t.Errorf("a renewal over a forward that does not open = %q, id renewed %v; want the session renewed", res.body, laptop.id() != planted)
	}
	attacker.get("/get")
	renewed := attacker.id()
	tab := e.browser()
	tab.cookies[httpsession.DefaultName] = jarCookie{c: signedCookie(attackerID, secret)}
	if res := tab.get("/get"); !strings.Contains(res.body, "user=42") || tab.id() != renewed {
		t.Errorf("the old id within the grace period = %q; want the renewed session", res.body)
	}
	if v, _ := e.mr.Get(forwardKey(attackerID)); strings.Contains(v, renewed) {
		t.Error("the forward holds the renewed id in clear")
	}
}

// Under AcceptPlaintext, a forward written in clear (by a program without
// keys, during a switch) still leads to the renewed session.
func TestForwardInClearUnderAcceptPlaintext(t *testing.T) {
	e := newLifeEnv(t, httpsession.Options{RenewAfter: 15 * time.Minute, IdleTimeout: time.Hour}, typedstore.Options[lsess]{
		EncryptionKeys: [][]byte{bytes.Repeat([]byte{1}, 32)}, AcceptPlaintext: true,
	})
	old, renewed := e.browser(), e.browser()
	old.get("/login")
	renewed.get("/login")
	e.mr.Del(typedstore.DefaultPrefix + old.id())
	e.mr.Set(forwardKey(old.id()), renewed.id())
	if res := old.get("/get"); !strings.Contains(res.body, "user=42") || old.id() != renewed.id() {
		t.Errorf("the old cookie = %q, given the renewed id %v; want the renewed session", res.body, old.id() == renewed.id())
	}
}

// Under IDHashKey alone, a renewed id's forward holds the new id sealed
// under a key derived from IDHashKey, and still leads to it.
func TestForwardUnderIDHashKeyAlone(t *testing.T) {
	hashKey := bytes.Repeat([]byte{2}, 32)
	e := newLifeEnv(t, httpsession.Options{RenewAfter: 15 * time.Minute, IdleTimeout: time.Hour}, typedstore.Options[lsess]{IDHashKey: hashKey})
	b := e.browser()
	b.get("/login")
	old := b.id()
	e.advance(16 * time.Minute)
	b.get("/get")
	renewed := b.id()
	if renewed == old {
		t.Fatal("the id was not renewed")
	}
	for _, k := range e.mr.Keys() {
		if v, _ := e.mr.Get(k); strings.Contains(v, renewed) || strings.Contains(k, old) {
			t.Errorf("key %q or its value holds a session id", k)
		}
	}
	tab := e.browser()
	tab.cookies[httpsession.DefaultName] = jarCookie{c: signedCookie(old, secret)}
	if res := tab.get("/get"); !strings.Contains(res.body, "user=42") || tab.id() != renewed {
		t.Errorf("the old id within the grace period = %q; want the renewed session", res.body)
	}
}
