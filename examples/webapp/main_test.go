package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"

	"github.com/typedstore/typedstore"
)

func TestWebapp(t *testing.T) {
	mr := miniredis.RunT(t)
	store, err := typedstore.Open("redis://"+mr.Addr(), typedstore.Options[Session]{Prefix: "webapp:sess:"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	h, err := newHandler(store, "test secret")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}

	get := func() string {
		t.Helper()
		res, err := client.Get(srv.URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return string(b)
	}
	post := func(path string, form url.Values) string {
		t.Helper()
		res, err := client.PostForm(srv.URL+path, form) // follows the redirect to /
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("POST %s = %d", path, res.StatusCode)
		}
		b, _ := io.ReadAll(res.Body)
		return string(b)
	}

	if body := get(); !strings.Contains(body, "Log in") || !strings.Contains(body, "Empty.") {
		t.Fatalf("first page: %s", body)
	}
	if n := len(mr.Keys()); n != 0 {
		t.Errorf("%d sessions stored for a visitor who did nothing; want 0", n)
	}
	post("/cart", url.Values{"item": {"tea"}})
	if body := post("/login", url.Values{"name": {"Ada"}}); !strings.Contains(body, "Hello, Ada. This is visit 1.") || !strings.Contains(body, "<li>tea</li>") {
		t.Errorf("after login: %s", body)
	}
	if body := post("/cart", url.Values{"item": {"<scones>"}}); !strings.Contains(body, "<li>&lt;scones&gt;</li>") || !strings.Contains(body, "visit 2.") {
		t.Errorf("after adding to the cart: %s", body)
	}
	if n := len(mr.Keys()); n != 1 {
		t.Errorf("%d sessions stored; want 1 (the pre-login one deleted)", n)
	}
	if body := post("/logout", nil); !strings.Contains(body, "Log in") || !strings.Contains(body, "Empty.") {
		t.Errorf("after logout: %s", body)
	}
	if n := len(mr.Keys()); n != 0 {
		t.Errorf("%d sessions stored after logout; want 0", n)
	}
}
