package servertest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// SelfSignedTLS writes a self-signed certificate for 127.0.0.1 and localhost, and its key, into
// a temporary directory: the server's TLS_CERT_FILE and TLS_KEY_FILE, and the CA a client
// trusts (Node: NODE_EXTRA_CA_CERTS=certFile).
func SelfSignedTLS(t testing.TB) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "aitutor test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// Serve runs the server as the binary does (Server.Run: the jobs, its own listener on PORT,
// HTTPS when TLS_CERT_FILE is set) until the test ends, and returns its base URL once it
// answers /healthz. The httptest listener of New keeps serving beside it.
func (e *Env) Serve() string {
	e.T.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Server.Run(ctx) }()
	e.T.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			e.T.Errorf("servertest: run: %v", err)
		}
	})
	scheme, client := "http", &http.Client{Timeout: time.Second}
	if e.Config.TLSCertFile != "" {
		pool := x509.NewCertPool()
		pemBytes, err := os.ReadFile(e.Config.TLSCertFile)
		if err != nil {
			e.T.Fatal(err)
		}
		pool.AppendCertsFromPEM(pemBytes)
		scheme = "https"
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	}
	base := fmt.Sprintf("%s://127.0.0.1:%d", scheme, e.Config.Port)
	for i := 0; ; i++ {
		resp, err := client.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				client.CloseIdleConnections()
				return base
			}
		}
		select {
		case err := <-done:
			e.T.Fatalf("servertest: the server stopped: %v", err)
		default:
		}
		if i == 100 {
			e.T.Fatalf("servertest: %s/healthz does not answer: %v", base, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
