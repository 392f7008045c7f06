package witness

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// AddCheckpointPath is the tlog-witness endpoint, relative to the witness's URL.
const AddCheckpointPath = "/add-checkpoint"

// sizeContentType is the media type of a 409 answer's body (tlog-witness).
const sizeContentType = "text/x.tlog.size"

// maxRequest bounds an add-checkpoint body (a note and at most 64 proof hashes).
const maxRequest = 64 << 10

// EncodeRequest is the add-checkpoint body: "old N", the proof lines, an empty line, the note.
func EncodeRequest(old uint64, proof [][]byte, note []byte) []byte {
	var b bytes.Buffer
	b.WriteString("old " + strconv.FormatUint(old, 10) + "\n")
	for _, h := range proof {
		b.WriteString(base64.StdEncoding.EncodeToString(h) + "\n")
	}
	b.WriteString("\n")
	b.Write(note)
	return b.Bytes()
}

// DecodeRequest parses an add-checkpoint body.
func DecodeRequest(body []byte) (old uint64, proof [][]byte, note []byte, err error) {
	r := bufio.NewReader(bytes.NewReader(body))
	line, err := r.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "old ") {
		return 0, nil, nil, fmt.Errorf("%w: the body must start with \"old <size>\"", ErrBadRequest)
	}
	if old, err = strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(line, "old "), "\n"), 10, 64); err != nil {
		return 0, nil, nil, fmt.Errorf("%w: old size: %v", ErrBadRequest, err)
	}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return 0, nil, nil, fmt.Errorf("%w: no empty line before the checkpoint", ErrBadRequest)
		}
		if line == "\n" {
			break
		}
		h, err := base64.StdEncoding.DecodeString(strings.TrimSuffix(line, "\n"))
		if err != nil || len(h) != 32 || len(proof) >= 64 {
			return 0, nil, nil, fmt.Errorf("%w: proof line %d is not a base64 SM3 hash", ErrBadRequest, len(proof)+1)
		}
		proof = append(proof, h)
	}
	note, _ = io.ReadAll(r)
	return old, proof, note, nil
}

// Handler serves tlog-witness's POST /add-checkpoint for w.
func Handler(w *Witness) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+AddCheckpointPath, func(rw http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, maxRequest))
		if err != nil {
			http.Error(rw, "request too large or unreadable", http.StatusBadRequest)
			return
		}
		old, proof, note, err := DecodeRequest(body)
		var sig Signature
		if err == nil {
			sig, err = w.AddCheckpoint(r.Context(), old, proof, note)
		}
		var se *SizeError
		switch {
		case err == nil:
			rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = io.WriteString(rw, sig.Line())
		case errors.As(err, &se):
			rw.Header().Set("Content-Type", sizeContentType)
			rw.WriteHeader(http.StatusConflict)
			_, _ = io.WriteString(rw, strconv.FormatUint(se.Size, 10)+"\n")
		case errors.Is(err, ErrBadRequest):
			http.Error(rw, err.Error(), http.StatusBadRequest)
		case errors.Is(err, ErrUnknownLog):
			http.Error(rw, err.Error(), http.StatusNotFound)
		case errors.Is(err, ErrBadSignature):
			http.Error(rw, err.Error(), http.StatusForbidden)
		case errors.Is(err, ErrRefused):
			http.Error(rw, err.Error(), http.StatusUnprocessableEntity)
		default:
			http.Error(rw, err.Error(), http.StatusInternalServerError)
		}
	})
	return mux
}

// Submit sends an add-checkpoint request to the witness at baseURL and returns its
// cosignature line. A 409 is a *SizeError with the witness's size; 422 wraps ErrRefused,
// 403 ErrBadSignature, 404 ErrUnknownLog.
func Submit(ctx context.Context, client *http.Client, baseURL string, old uint64, proof [][]byte, note []byte) (Signature, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(baseURL, "/")+AddCheckpointPath, bytes.NewReader(EncodeRequest(old, proof, note)))
	if err != nil {
		return Signature{}, err
	}
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return Signature{}, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxRequest))
	msg := strings.TrimSpace(string(b))
	switch resp.StatusCode {
	case http.StatusOK:
		line, _, _ := strings.Cut(string(b), "\n")
		return ParseSignatureLine(line)
	case http.StatusConflict:
		n, err := strconv.ParseUint(msg, 10, 64)
		if err != nil {
			return Signature{}, fmt.Errorf("witness answered 409 without a size: %q", msg)
		}
		return Signature{}, &SizeError{Size: n}
	case http.StatusUnprocessableEntity:
		return Signature{}, fmt.Errorf("%w (witness says: %s)", ErrRefused, msg)
	case http.StatusForbidden:
		return Signature{}, fmt.Errorf("%w (witness says: %s)", ErrBadSignature, msg)
	case http.StatusNotFound:
		return Signature{}, fmt.Errorf("%w (witness says: %s)", ErrUnknownLog, msg)
	default:
		return Signature{}, fmt.Errorf("witness answered %s: %s", resp.Status, msg)
	}
}
