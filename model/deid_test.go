package model_test

import (
	"testing"

	"github.com/zhiliao/zhiliao/model"
)

func TestMasking(t *testing.T) {
	for in, want := range map[string]string{"张三": "张*", "张三丰": "张*丰", "欧阳娜娜": "欧**娜", "李": "*", "": ""} {
		if got := model.MaskName(in); got != want {
			t.Errorf("MaskName(%q) = %q, want %q", in, got, want)
		}
	}
	if got := model.MaskPhone("13812345678"); got != "138****5678" {
		t.Errorf("phone %q", got)
	}
	if got := model.MaskIDNumber("11010519491231002X"); got != "110105********002X" {
		t.Errorf("id %q", got)
	}
}
