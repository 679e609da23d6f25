package model

// Read views: what the API returns for screens that join several entities.

// QueueEntry is a queue ticket with the patient's name, for the queue screen.
type QueueEntry struct {
	*QueueTicket
	PatientName string `json:"patient_name"`
}

// ApplicationDetail is an application with its orders, assessments and course.
type ApplicationDetail struct {
	Application *Application  `json:"application"`
	Orders      []*Order      `json:"orders"`
	Assessments []*Assessment `json:"assessments"`
	Course      *Course       `json:"course"`
}

// PatientArchive is a patient's treatment archive: courses, sessions and records.
type PatientArchive struct {
	Patient  *Patient   `json:"patient"`
	Courses  []*Course  `json:"courses"`
	Sessions []*Session `json:"sessions"`
	Records  []*Record  `json:"records"`
}

// PatientHome is what a patient sees through their link.
type PatientHome struct {
	Appointments []*Appointment  `json:"appointments"`
	Precautions  []*Notification `json:"precautions"`
	Surveys      []*Survey       `json:"surveys"`
}
