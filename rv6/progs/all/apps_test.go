package all_test

import (
	"strings"
	"testing"
)

// TestHttpd serves /www with httpd on stack b and fetches from stack a
// with nc: two requests on one keep-alive connection (a file and a 404),
// then a 405, then kills httpd.
func TestHttpd(t *testing.T) {
	s := bootInet(t)
	s.MustRun(t, "mkdir", "/www")
	s.WriteFile(t, "/www/index.html", "<h1>hello from rv6</h1>\n")
	s.WriteFile(t, "/req", "GET / HTTP/1.1\r\nHost: b\r\n\r\nGET /nope.txt HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n")
	s.WriteFile(t, "/post", "POST / HTTP/1.1\r\nHost: b\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
	p := s.Start(t, "grant inet:b httpd -p 8080 -c 4 &\nH=$!\n", "sh")
	waitOutput(t, p, "httpd: serving /www on 10.0.0.2:8080")
	p.Type([]byte("grant inet:a nc 10.0.0.2 8080 < /req\necho =====\ngrant inet:a nc 10.0.0.2 8080 < /post\n" +
		"kill $H\necho done\nexit\n"))
	p.Type(nil)
	out, st, err := p.Wait()
	if err != nil || !st.Exited {
		t.Fatalf("sh: %+v %v:\n%s", st, err, out)
	}
	resp, post, _ := strings.Cut(out, "=====")
	for _, want := range []string{"HTTP/1.1 200 OK\r\n", "Content-Length: 24\r\n", "Content-Type: text/html", "Last-Modified: ", "\r\n\r\n<h1>hello from rv6</h1>\n", "HTTP/1.1 404 Not Found\r\n"} {
		if !strings.Contains(resp, want) {
			t.Errorf("no %q in the response:\n%s", want, resp)
		}
	}
	if !strings.Contains(post, "HTTP/1.1 405 ") {
		t.Errorf("POST: %q, want a 405", post)
	}
	if !strings.Contains(out, "Killed  grant inet:b httpd") {
		t.Errorf("kill did not end httpd:\n%s", out)
	}
}

// TestKvstore stores and reads back values through nc.
func TestKvstore(t *testing.T) {
	s := bootInet(t)
	s.WriteFile(t, "/req", "set k 0 0 5\r\nhello\r\nget k\r\nincr k 1\r\nset n 0 0 1\r\n7\r\nincr n 35\r\ndelete k\r\nget k\r\nquit\r\n")
	p := s.Start(t, "grant inet:b kvstore -m 1 &\n", "sh")
	waitOutput(t, p, "kvstore: 1 MiB on 10.0.0.2:11211")
	p.Type([]byte("grant inet:a nc 10.0.0.2 11211 < /req > /resp\nexit\n"))
	p.Type(nil)
	if _, st, err := p.Wait(); err != nil || !st.Exited {
		t.Fatalf("sh: %+v %v", st, err)
	}
	want := "STORED\r\nVALUE k 0 5\r\nhello\r\nEND\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\nSTORED\r\n42\r\nDELETED\r\nEND\r\n"
	if got := s.ReadFile(t, "/resp"); got != want {
		t.Errorf("kvstore answered %q, want %q", got, want)
	}
}

// TestServerErrors: bad flags are usage errors; without a network stack
// the programs say how to get one.
func TestServerErrors(t *testing.T) {
	s := bootInet(t)
	for _, c := range [][]string{
		{"httpd", "-p", "0"}, {"httpd", "-p", "70000"}, {"httpd", "-c", "0"}, {"httpd", "-c", "5000"}, {"httpd", "-x"}, {"httpd", "extra"},
		{"kvstore", "-m", "0"}, {"kvstore", "-m", "999999"}, {"kvstore", "-c", "-1"}, {"kvstore", "-p"}, {"kvstore", "-idle", "1ms"},
	} {
		if out, st := s.Run(t, c[0], c[1:]...); st.Status != 2 {
			t.Errorf("%q: %+v, want a usage error:\n%s", c, st, out)
		}
	}
	if out, st := s.Run(t, "httpd", "-root", "/nonexistent"); st.Status != 1 || !strings.Contains(out, "/nonexistent") {
		t.Errorf("httpd -root /nonexistent: %+v:\n%s", st, out)
	}
	s.MustRun(t, "mkdir", "/www")
	s.Caps = nil
	for _, prog := range []string{"httpd", "kvstore"} {
		if out, st := s.Run(t, prog); st.Status != 1 || !strings.Contains(out, "capability not granted") {
			t.Errorf("%s without a stack: %+v:\n%s", prog, st, out)
		}
	}
}

// TestHttpdLimits: with -c 1 a second client gets a 503 while the first
// holds the only slot, and the first, idle, is closed after -idle.
func TestHttpdLimits(t *testing.T) {
	s := bootInet(t)
	s.MustRun(t, "mkdir", "/www")
	s.WriteFile(t, "/req", "GET / HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n")
	p := s.Start(t, "grant inet:b httpd -p 8080 -c 1 -idle 1s &\n", "sh")
	waitOutput(t, p, "httpd: serving /www on 10.0.0.2:8080")
	// nc -d sends nothing and ends when httpd closes the connection.
	p.Type([]byte("grant inet:a nc -d -v 10.0.0.2 8080 &\nN=$!\n"))
	waitOutput(t, p, "nc: connected to 10.0.0.2:8080")
	p.Type([]byte("grant inet:a nc 10.0.0.2 8080 < /req\nwait $N\necho idle one closed $?\nexit\n"))
	p.Type(nil)
	out, st, err := p.Wait()
	if err != nil || !st.Exited {
		t.Fatalf("sh: %+v %v:\n%s", st, err, out)
	}
	for _, want := range []string{"HTTP/1.1 503 Service Unavailable\r\n", "idle one closed 0"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in the output:\n%s", want, out)
		}
	}
}
