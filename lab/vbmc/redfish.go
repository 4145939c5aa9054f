package vbmc

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
)

// The Redfish service is a real subset of DMTF Redfish (DSP0266, schema
// 2019.x and later): the service root, the Systems collection and one
// ComputerSystem per machine with PowerState, the Boot override
// (BootSourceOverrideEnabled/Target) and the ComputerSystem.Reset action.
// It is what sushy-tools' emulator offers OpenStack, and what gofish and
// Debian's redfishtool need. Every resource but /redfish and the service
// root needs HTTP basic authentication.

const (
	systemsPath = "/redfish/v1/Systems"
	// maxBody bounds request bodies: a boot override PATCH is ~100 bytes.
	maxBody = 16 << 10
)

// resetTypes are the ComputerSystem.Reset types supported.
var resetTypes = []string{"On", "ForceOff", "ForceRestart", "GracefulShutdown", "PowerCycle"}

type redfish struct {
	name, uuid string
	user, pass string
	m          *Machine
	log        *slog.Logger
}

type odataID struct {
	ID string `json:"@odata.id"`
}

func (rf *redfish) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimSuffix(r.URL.Path, "/")
	switch path {
	case "/redfish":
		rf.get(w, r, map[string]string{"v1": "/redfish/v1/"})
		return
	case "/redfish/v1":
		rf.get(w, r, rf.serviceRoot())
		return
	}
	if !rf.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Basic realm="vbmc `+rf.name+`"`)
		rfError(w, http.StatusUnauthorized, "Base.1.8.NoValidSession", "authentication required: HTTP basic authentication with the BMC's user and password")
		return
	}
	sys := systemsPath + "/" + rf.name
	switch path {
	case systemsPath:
		rf.get(w, r, map[string]any{
			"@odata.id":           systemsPath,
			"@odata.type":         "#ComputerSystemCollection.ComputerSystemCollection",
			"Name":                "Computer System Collection",
			"Members":             []odataID{{sys}},
			"Members@odata.count": 1,
		})
	case sys:
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			s, err := rf.system(r.Context())
			if err != nil {
				rf.internal(w, err)
				return
			}
			rf.get(w, r, s)
		case http.MethodPatch:
			rf.patchSystem(w, r)
		default:
			notAllowed(w, "GET, HEAD, PATCH")
		}
	case sys + "/Actions/ComputerSystem.Reset":
		if r.Method != http.MethodPost {
			notAllowed(w, "POST")
			return
		}
		rf.reset(w, r)
	default:
		rfError(w, http.StatusNotFound, "Base.1.8.ResourceMissingAtURI", fmt.Sprintf("no resource at %s: this BMC serves %s", r.URL.Path, sys))
	}
}

func (rf *redfish) authorized(r *http.Request) bool {
	u, p, ok := r.BasicAuth()
	// Compare both in constant time, whatever matched first.
	uok := subtle.ConstantTimeCompare([]byte(u), []byte(rf.user))
	pok := subtle.ConstantTimeCompare([]byte(p), []byte(rf.pass))
	return ok && uok&pok == 1
}

func (rf *redfish) serviceRoot() map[string]any {
	return map[string]any{
		"@odata.id":      "/redfish/v1/",
		"@odata.type":    "#ServiceRoot.v1_5_0.ServiceRoot",
		"Id":             "RootService",
		"Name":           "rlbuild virtual BMC",
		"RedfishVersion": "1.6.0",
		"UUID":           rf.uuid,
		"Systems":        odataID{systemsPath},
	}
}

func (rf *redfish) system(ctx context.Context) (map[string]any, error) {
	on, err := rf.m.PowerState(ctx)
	if err != nil {
		return nil, err
	}
	power := "Off"
	if on {
		power = "On"
	}
	o := rf.m.Override()
	sys := systemsPath + "/" + rf.name
	return map[string]any{
		"@odata.id":   sys,
		"@odata.type": "#ComputerSystem.v1_10_0.ComputerSystem",
		"Id":          rf.name,
		"Name":        rf.name,
		"SystemType":  "Virtual",
		"UUID":        rf.uuid,
		"PowerState":  power,
		"Status":      map[string]string{"State": "Enabled", "Health": "OK"},
		"Boot": map[string]any{
			"BootSourceOverrideEnabled":                        string(o.Enabled),
			"BootSourceOverrideTarget":                         string(o.Target),
			"BootSourceOverrideTarget@Redfish.AllowableValues": rf.m.Targets(),
		},
		"Actions": map[string]any{
			"#ComputerSystem.Reset": map[string]any{
				"target":                            sys + "/Actions/ComputerSystem.Reset",
				"ResetType@Redfish.AllowableValues": resetTypes,
			},
		},
	}, nil
}

// decode reads a JSON object body, bounded, and rejects unknown
// properties with Redfish's PropertyUnknown.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			rfError(w, http.StatusRequestEntityTooLarge, "Base.1.8.MalformedJSON", fmt.Sprintf("request body larger than %d bytes", maxBody))
		case strings.Contains(err.Error(), "unknown field"):
			rfError(w, http.StatusBadRequest, "Base.1.8.PropertyUnknown", err.Error())
		default:
			rfError(w, http.StatusBadRequest, "Base.1.8.MalformedJSON", "request body is not the expected JSON object: "+err.Error())
		}
		return false
	}
	if _, err := dec.Token(); err != io.EOF {
		rfError(w, http.StatusBadRequest, "Base.1.8.MalformedJSON", "request body has data after its JSON object")
		return false
	}
	return true
}

func (rf *redfish) patchSystem(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Boot *struct {
			BootSourceOverrideEnabled *string
			BootSourceOverrideTarget  *string
			BootSourceOverrideMode    *string
		}
	}
	if !decode(w, r, &req) {
		return
	}
	if req.Boot == nil {
		rfError(w, http.StatusBadRequest, "Base.1.8.PropertyMissing", "PATCH needs a Boot object: the only writable properties are Boot.BootSourceOverrideEnabled and Boot.BootSourceOverrideTarget")
		return
	}
	o := rf.m.Override()
	if v := req.Boot.BootSourceOverrideEnabled; v != nil {
		o.Enabled = BootEnabled(*v)
	}
	if v := req.Boot.BootSourceOverrideTarget; v != nil {
		o.Target = BootTarget(*v)
		if req.Boot.BootSourceOverrideEnabled == nil && o.Target != BootNone && o.Enabled == BootDisabled {
			o.Enabled = BootOnce
		}
	}
	if v := req.Boot.BootSourceOverrideMode; v != nil && *v != "UEFI" && *v != "Legacy" {
		rfError(w, http.StatusBadRequest, "Base.1.8.PropertyValueNotInList", fmt.Sprintf("BootSourceOverrideMode %q: want UEFI or Legacy (the VM's firmware decides; the value is accepted and ignored)", *v))
		return
	}
	if err := rf.m.SetOverride(o); err != nil {
		rfError(w, http.StatusBadRequest, "Base.1.8.PropertyValueNotInList", err.Error())
		return
	}
	rf.log.Info("boot override", "machine", rf.name, "enabled", o.Enabled, "target", o.Target, "client", r.RemoteAddr)
	w.WriteHeader(http.StatusNoContent)
}

func (rf *redfish) reset(w http.ResponseWriter, r *http.Request) {
	var req struct{ ResetType string }
	if !decode(w, r, &req) {
		return
	}
	var err error
	ctx := r.Context()
	switch req.ResetType {
	case "On":
		err = rf.m.SetPower(ctx, true)
	case "ForceOff":
		err = rf.m.SetPower(ctx, false)
	case "ForceRestart":
		err = rf.m.Reset(ctx)
	case "PowerCycle":
		err = rf.m.PowerCycle(ctx)
	case "GracefulShutdown":
		err = rf.m.Shutdown(ctx)
	default:
		rfError(w, http.StatusBadRequest, "Base.1.8.ActionParameterValueNotInList",
			fmt.Sprintf("ResetType %q is not supported: want one of %s", req.ResetType, strings.Join(resetTypes, ", ")))
		return
	}
	if err != nil {
		rf.internal(w, err)
		return
	}
	rf.log.Info("reset", "machine", rf.name, "type", req.ResetType, "client", r.RemoteAddr)
	w.WriteHeader(http.StatusNoContent)
}

func (rf *redfish) get(w http.ResponseWriter, r *http.Request, v any) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		notAllowed(w, "GET, HEAD")
		return
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		rf.internal(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("OData-Version", "4.0")
	if r.Method == http.MethodGet {
		w.Write(b)
	}
}

func (rf *redfish) internal(w http.ResponseWriter, err error) {
	rf.log.Error("redfish", "machine", rf.name, "err", err)
	rfError(w, http.StatusInternalServerError, "Base.1.8.InternalError", "the machine did not respond: "+err.Error())
}

func notAllowed(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	rfError(w, http.StatusMethodNotAllowed, "Base.1.8.OperationNotAllowed", "method not allowed here: use "+allow)
}

// rfError writes a Redfish error response (DSP0266 9.6).
func rfError(w http.ResponseWriter, status int, id, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{
		"error": map[string]any{
			"code":    id,
			"message": msg,
			"@Message.ExtendedInfo": []map[string]string{{
				"@odata.type": "#Message.v1_0_0.Message",
				"MessageId":   id,
				"Message":     msg,
			}},
		},
	})
}
