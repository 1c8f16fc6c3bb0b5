// A Go net/http client driven line by line (tests/clients/test_clients.py): one JSON request per stdin
// line, one JSON result per stdout line. One http.Client (one keep-alive pool) for the whole
// process. Expect: 100-continue is honoured by the Transport when ExpectContinueTimeout > 0.
package main

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"time"
)

type job struct {
	Method    string            `json:"method"`
	URL       string            `json:"url"`
	File      string            `json:"file"`
	Headers   map[string]string `json:"headers"`
	TimeoutMS int               `json:"timeout_ms"`
}

type result struct {
	Status  int                 `json:"status,omitempty"`
	Headers map[string][]string `json:"headers,omitempty"`
	Body    string              `json:"body_b64"`
	Error   string              `json:"error,omitempty"`
}

func main() {
	transport := &http.Transport{
		ExpectContinueTimeout: time.Second, // Go's own default in http.DefaultTransport
		MaxConnsPerHost:       1,
		MaxIdleConnsPerHost:   1,
	}
	client := &http.Client{Transport: transport, Timeout: 20 * time.Second}
	in := bufio.NewScanner(os.Stdin)
	out := json.NewEncoder(os.Stdout)
	for in.Scan() {
		var j job
		if err := json.Unmarshal(in.Bytes(), &j); err != nil {
			out.Encode(result{Error: err.Error()})
			continue
		}
		out.Encode(do(client, j))
	}
}

func do(client *http.Client, j job) result {
	var body io.Reader
	var size int64
	if j.File != "" {
		f, err := os.Open(j.File)
		if err != nil {
			return result{Error: err.Error()}
		}
		defer f.Close()
		info, _ := f.Stat()
		size = info.Size()
		body = f
	}
	req, err := http.NewRequest(j.Method, j.URL, body)
	if err != nil {
		return result{Error: err.Error()}
	}
	req.ContentLength = size
	for k, v := range j.Headers {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return result{Error: err.Error()}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return result{Error: err.Error()}
	}
	return result{Status: resp.StatusCode, Headers: resp.Header, Body: base64.StdEncoding.EncodeToString(data)}
}
